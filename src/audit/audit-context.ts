import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { AuditActor } from './audit-event.js';

/** The longest user agent kept: a client chooses it, the table must not. */
export const USER_AGENT_MAX_LENGTH = 512;

/** Where an event happened: the request's client, agent and id, and who acted. */
export interface AuditScene {
  actor: AuditActor;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
}

/** Per request (or CLI command) state, read when an event is recorded. */
interface Frame {
  req?: Request;
  actor?: AuditActor;
}

/**
 * The request an audited action happens in, kept in AsyncLocalStorage so that services record
 * events without passing the request around (or knowing of HTTP). A request's frame holds the
 * request itself: its caller is known only once the bearer guard has run, after this middleware,
 * so the scene is read when an event is recorded.
 */
@Injectable()
export class AuditContext {
  private readonly storage = new AsyncLocalStorage<Frame>();

  /** Express middleware: the rest of the request runs in its own frame. */
  readonly middleware = (req: Request, _res: Response, next: NextFunction): void => {
    this.storage.run({ req }, next);
  };

  /** Runs `work` with `actor` as the default actor of what it records (the CLI's commands). */
  runAs<T>(actor: AuditActor, work: () => Promise<T>): Promise<T> {
    return this.storage.run({ actor }, work);
  }

  /** The scene now: outside any request or command, the service itself. */
  scene(): AuditScene {
    const frame = this.storage.getStore();
    const req = frame?.req;
    if (!req) {
      return {
        actor: frame?.actor ?? { kind: 'system' },
        clientAddress: null,
        userAgent: null,
        requestId: null,
      };
    }
    const userAgent = req.headers['user-agent'];
    // Put there by the bearer guard, once it has authenticated the request.
    const user = (req as Request & { user?: { id: string } }).user;
    return {
      actor: user ? { kind: 'user', id: user.id } : { kind: 'system' },
      clientAddress: req.ip ?? null,
      userAgent: userAgent === undefined ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH),
      // Put there by the request id middleware, before this one.
      requestId: typeof req.id === 'string' ? req.id : null,
    };
  }
}
