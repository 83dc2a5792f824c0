import type { AuditEventInput } from './audit-event.js';
import type { AuditScene } from './audit-scene.js';

/**
 * What features record audit events through (`AuditTrail` is the one implementation). Recording
 * never waits and never fails: the event is queued and written in the background.
 */
export abstract class AuditRecorder {
  /** False with AUDIT_ENABLED=false: callers may skip work whose only use is an event. */
  abstract readonly enabled: boolean;

  /** Records `event`, which happened in `scene` (its actor, unless the event names one). */
  abstract record(event: AuditEventInput, scene: AuditScene): void;
}
