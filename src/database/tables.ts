import type { Generated } from 'kysely';

export type Role = 'user' | 'admin';

/** Times are epoch milliseconds (bigint): the same type, order and precision in both dialects. */
export interface UsersTable {
  id: string;
  username: string;
  passwordHash: string;
  role: Role;
  /** Bumped by a password or role change; a token carrying an older version is refused. */
  tokenVersion: Generated<number>;
  createdAt: number;
  updatedAt: number;
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
}

export interface Tables {
  users: UsersTable;
  files: FilesTable;
}
