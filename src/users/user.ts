import type { Role } from '../common/caller.js';

/** A user as the rest of the service sees it: never the password hash. */
export interface User {
  id: string;
  username: string;
  role: Role;
  createdAt: Date;
  /** The lifetime of a file of theirs whose upload names none; null: until it is deleted. */
  defaultFileTtlSeconds: number | null;
}

/** What a request's authentication needs to know of its user, cached briefly. */
export interface AuthState {
  id: string;
  username: string;
  role: Role;
  tokenVersion: number;
}

/** How an OpenID Connect provider names a user: unique per issuer, stable, never reassigned. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
}
