import type { JWTPayload } from 'jose';
import type { OidcConfig } from '../../config/app-config.js';
import type { Role } from '../../common/caller.js';

/**
 * The claim `name` of a token: a top-level claim of that name (`groups`, or a namespaced
 * `https://example.com/roles`), else a dotted path into nested claims (`realm_access.roles`).
 */
function claimAt(claims: JWTPayload, name: string): unknown {
  if (name in claims) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** admin when the configured claim is the configured value, or a list holding it; else user. */
export function roleFromClaims(claims: JWTPayload, config: OidcConfig): Role {
  if (!config.adminClaim) return 'user';
  const value = claimAt(claims, config.adminClaim.name);
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => String(v) === config.adminClaim!.value) ? 'admin' : 'user';
}

/**
 * The username a provider's user gets on first sight: the configured claim (else `sub`), with
 * every character a username may not hold made `_`, cut to 64.
 */
export function usernameFromClaims(claims: JWTPayload, config: OidcConfig): string {
  const value = claimAt(claims, config.usernameClaim);
  const name = typeof value === 'string' && value !== '' ? value : (claims.sub ?? '');
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'user';
}
