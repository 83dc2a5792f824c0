/**
 * Who a request or command acts for, as every feature sees it. Here rather than in users/ or
 * auth/: the database's tables, files/, api-keys/ and auth/ all need these two types, and none of
 * them should depend on another feature (nor database/ on any) for them.
 */
export type Role = 'user' | 'admin';

export const ROLES: readonly Role[] = ['user', 'admin'];

/** A user acting: enough to decide what they may see and do. */
export interface Caller {
  id: string;
  role: Role;
}
