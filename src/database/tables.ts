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

export interface Tables {
  users: UsersTable;
}
