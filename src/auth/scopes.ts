import type { Role } from '../common/caller.js';

/**
 * What a credential may do, route by route (`@Scopes()`): read files, write them (upload, delete,
 * link), blur images, administer users. Password sessions and OpenID Connect tokens hold every
 * scope of their user's role; an API key holds the scopes it was made with, within its owner's
 * current role.
 */
export const SCOPES = ['files:read', 'files:write', 'images', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const OF_ROLE: Readonly<Record<Role, ReadonlySet<Scope>>> = {
  user: new Set<Scope>(['files:read', 'files:write', 'images']),
  admin: new Set<Scope>(SCOPES),
};

/** Every scope a user of `role` may hold. */
export function scopesOfRole(role: Role): ReadonlySet<Scope> {
  return OF_ROLE[role];
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
