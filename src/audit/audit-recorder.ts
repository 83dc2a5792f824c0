import type { AuditScene } from './audit-context.js';
import type { AuditEventInput } from './audit-event.js';

/**
 * What features record audit events through (`AuditTrail` is the one implementation). Recording
 * never waits and never fails: the event is queued and written in the background.
 */
export abstract class AuditRecorder {
  /** False with AUDIT_ENABLED=false: callers may skip work whose only use is an event. */
  abstract readonly enabled: boolean;

  /** Records `event`, in the scene now (the current request) unless `scene` is given. */
  abstract record(event: AuditEventInput, scene?: AuditScene): void;

  /** The scene now, for an event recorded later (a download, when its response ends). */
  abstract scene(): AuditScene;
}
