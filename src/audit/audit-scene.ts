import type { AuditActor } from './audit-event.js';

/**
 * Where an audited action happened: who acted, and for a request, its client's address, user agent
 * and id. Features take it from their caller (controllers build it with `@RequestScene()`, the CLI
 * passes `CLI_SCENE`) rather than from async context: AsyncLocalStorage costs every request on
 * Node 20, audited or not (about a tenth of a 4 KiB download's CPU).
 */
export interface AuditScene {
  readonly actor: AuditActor;
  readonly clientAddress: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

/** The service's own work, outside any request (the first admin, made at start-up). */
export const SYSTEM_SCENE: AuditScene = {
  actor: { kind: 'system' },
  clientAddress: null,
  userAgent: null,
  requestId: null,
};

/** The operator CLI's commands. */
export const CLI_SCENE: AuditScene = { ...SYSTEM_SCENE, actor: { kind: 'cli' } };
