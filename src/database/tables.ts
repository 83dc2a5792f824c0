import type { Generated } from 'kysely';
import type { Role } from '../common/caller.js';

/** Times are epoch milliseconds (bigint): the same type, order and precision in both dialects. */
export interface UsersTable {
  id: string;
  username: string;
  /** Empty for a user provisioned from an OpenID Connect provider: no password logs them in. */
  passwordHash: string;
  role: Role;
  /** Bumped by a password or role change; a token carrying an older version is refused. */
  tokenVersion: Generated<number>;
  createdAt: number;
  updatedAt: number;
  /** The OpenID Connect issuer and subject of a provisioned user; null for a local one. */
  externalIssuer: string | null;
  externalSubject: string | null;
  /** The lifetime of a file whose upload names none (migration 0010); null: until deleted. */
  defaultFileTtlSeconds: Generated<number | null>;
  /** The user's own quota (`quotas/`, migration 0009): null is the default, -1 no limit. */
  quotaBytes: number | null;
  quotaFiles: number | null;
}

export interface FilesTable {
  id: string;
  ownerId: string;
  /** The client's name for the file, sanitised; never used as a path. */
  filename: string;
  contentType: string;
  size: number;
  /** Lowercase hex SHA-256 of the stored bytes. */
  sha256: string;
  /** Where the FileStore keeps the bytes. */
  storageKey: string;
  createdAt: number;
  /** When the file stops existing (migration 0010); null: until deleted. */
  expiresAt: number | null;
}

export interface ApiKeysTable {
  id: string;
  ownerId: string;
  name: string;
  /** Lowercase hex SHA-256 of the key. */
  keyHash: string;
  /** Space-separated scopes. */
  scopes: string;
  createdAt: number;
  /** Null: never expires. */
  expiresAt: number | null;
  /** Null: never used. Recorded at most once a minute per key and instance. */
  lastUsedAt: number | null;
}

/** A write under a storage key whose registry row is not there yet (see the sweeper). */
interface PendingUploadsTable {
  storageKey: string;
  createdAt: number;
  /** Renewed while the writing process lives: an old one means that process died. */
  touchedAt: number;
  /** Whose quota the upload counts against (migration 0009); null on rows of older versions. */
  ownerId: string | null;
  /** The bytes it holds of that quota until it is registered or discarded: what it announced. */
  reservedBytes: Generated<number>;
}

/** Work one instance at a time may do, until `expiresAt`. */
interface LeasesTable {
  name: string;
  /** The instance holding it (a random id per process). */
  holder: string;
  expiresAt: number;
}

/** The events a login limit still counts for one key (`SlidingWindowLimiter`). */
interface LoginAttemptsTable {
  /** The limit's name, a space, and the key it counts under. */
  key: string;
  /** Space-separated epoch milliseconds, oldest first. */
  times: string;
  /** When the newest of `times` leaves its window; the row is pruned after. */
  expiresAt: number;
}

/** A tus upload on its way (see migration 0007). */
export interface ResumableUploadsTable {
  id: string;
  ownerId: string;
  storageKey: string;
  length: number;
  offset: number;
  filename: string | null;
  filetype: string | null;
  storeState: string;
  hashState: Buffer;
  head: Buffer;
  createdAt: number;
  expiresAt: number;
  completedAt: number | null;
  lockedBy: string | null;
  lockedUntil: number | null;
  /** The lifetime the file asked for, from its completion (migration 0010); null: the default. */
  fileExpiresIn: number | null;
}

/** What happened to files and accounts, append-only (see migration 0008 and src/audit). */
export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  action: string;
  actorKind: string;
  actorId: string | null;
  fileId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  rangeStart: number | null;
  rangeEnd: number | null;
  bytesSent: number | null;
  /** A JSON object, or null. */
  details: string | null;
}

export interface Tables {
  users: UsersTable;
  files: FilesTable;
  apiKeys: ApiKeysTable;
  pendingUploads: PendingUploadsTable;
  leases: LeasesTable;
  loginAttempts: LoginAttemptsTable;
  resumableUploads: ResumableUploadsTable;
  auditEvents: AuditEventsTable;
}
