import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { AuditScene } from './audit-scene.js';

/** The longest user agent kept: a client chooses it, the table must not. */
export const USER_AGENT_MAX_LENGTH = 512;

/**
 * The scene of request `req`: its caller once the bearer guard has authenticated it (else the
 * service, as for a login, whose actor its event names), its client's address (Express's, which
 * honours TRUST_PROXY), user agent and request id.
 */
export function sceneOf(req: Request): AuditScene {
  const user = (req as Request & { user?: { id: string } }).user;
  const userAgent = req.headers['user-agent'];
  return {
    actor: user ? { kind: 'user', id: user.id } : { kind: 'system' },
    clientAddress: clientAddressOf(req),
    userAgent: userAgent === undefined ? null : userAgent.slice(0, USER_AGENT_MAX_LENGTH),
    // Put there by the request id middleware, first of all.
    requestId: typeof req.id === 'string' ? req.id : null,
  };
}

/**
 * Express's `req.ip`, which honours TRUST_PROXY: it works the forwarded chain out anew at each
 * read (a microsecond of a 4 KiB download). Without an X-Forwarded-For header there is no chain,
 * and it is the socket's address whatever TRUST_PROXY says.
 */
function clientAddressOf(req: Request): string | null {
  if (req.headers['x-forwarded-for'] === undefined) return req.socket.remoteAddress ?? null;
  return req.ip ?? null;
}

/** The request's `AuditScene`, for a handler to pass to the feature that records. */
export const RequestScene = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuditScene =>
    sceneOf(context.switchToHttp().getRequest<Request>()),
);
