/**
 * What the audit trail records. Each action is one thing that happened, recorded once:
 *
 * - `auth.login.succeeded`, `auth.login.failed` (password logins; a failed one's actor is the
 *   username tried, `details.reason` says why: `credentials` or `rate-limited`)
 * - `file.uploaded` (multipart, raw body, or a finished tus upload: `details.resumable`)
 * - `file.downloaded` (one per response that sends bytes or a presigned redirect: its range and
 *   the bytes that really went out)
 * - `file.deleted`
 * - `link.created` (`details.linkId`, `details.expiresAt`), `link.used` (a download through a
 *   signed link, whose actor is the link: as `file.downloaded`)
 * - `image.blurred` (the file is the new one, `details.sourceFileId` the image blurred)
 * - `user.created`, `user.updated`, `user.deleted` (`details.userId`, and what changed)
 */
export const AUDIT_ACTIONS = [
  'auth.login.succeeded',
  'auth.login.failed',
  'file.uploaded',
  'file.downloaded',
  'file.deleted',
  'link.created',
  'link.used',
  'image.blurred',
  'user.created',
  'user.updated',
  'user.deleted',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * Who did it: a user (by id), a signed link (by `linkIdOf` its signature, never the signature,
 * which would let whoever reads the trail download the file), the username of a failed login, the
 * operator CLI, or the service itself (the first admin, made at start-up).
 */
export type AuditActor =
  | { kind: 'user'; id: string }
  | { kind: 'link'; id: string }
  | { kind: 'username'; id: string }
  | { kind: 'cli' }
  | { kind: 'system' };

export const ACTOR_KINDS = ['user', 'link', 'username', 'cli', 'system'] as const;

/** What a feature says happened; where (its `AuditScene`) comes beside it. */
export interface AuditEventInput {
  action: AuditAction;
  /** Default: the scene's actor. */
  actor?: AuditActor;
  fileId?: string;
  /** First and last byte of a download's range. */
  range?: { start: number; end: number };
  bytesSent?: number;
  details?: Record<string, unknown>;
}

/** An event as it is stored and listed. */
export interface AuditEvent {
  id: number;
  at: Date;
  action: AuditAction;
  actor: { kind: AuditActor['kind']; id: string | null };
  fileId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  range: { start: number; end: number } | null;
  bytesSent: number | null;
  details: Record<string, unknown> | null;
}
