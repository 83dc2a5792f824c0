import { LRUCache } from 'lru-cache';
import type { AccessTokenClaims } from './authenticated-user.js';

/** The claims of a token whose signature, issuer, audience and expiry were checked. */
export interface VerifiedClaims extends AccessTokenClaims {
  /** Expiry, in seconds since the epoch (the token's `exp`). */
  exp: number;
}

/**
 * Remembers the tokens whose signature has been checked, so that a client sending the same token
 * again costs a map lookup instead of an HMAC and a JSON parse. Only what can never change is kept:
 * the token's claims, each until the token expires (never past it). Whether the token's user still
 * exists and still holds that token version is not kept here: the caller checks it on every
 * request, against the users' auth state, which a revocation evicts at once on this instance and
 * within AUTH_STATE_TTL_MS on the others. At most `maxEntries` tokens are kept, the least recently
 * used going first.
 */
export class VerifiedTokenCache {
  private readonly tokens: LRUCache<string, VerifiedClaims> | undefined;

  /** `maxEntries` 0 keeps nothing: every token is verified every time. */
  constructor(maxEntries: number) {
    this.tokens = maxEntries > 0 ? new LRUCache({ max: maxEntries }) : undefined;
  }

  /** The claims of `token` (the whole Authorization header value), if verified and not expired. */
  get(token: string | undefined): VerifiedClaims | undefined {
    if (token === undefined || !this.tokens) return undefined;
    const claims = this.tokens.get(token);
    if (claims === undefined) return undefined;
    // As jsonwebtoken decides: expired from the second `exp` names on.
    if (Math.floor(Date.now() / 1000) >= claims.exp) {
      this.tokens.delete(token);
      return undefined;
    }
    return claims;
  }

  /** Remembers `claims` of a token that has just been verified. */
  set(token: string | undefined, claims: VerifiedClaims): void {
    if (token === undefined || !this.tokens || !Number.isFinite(claims.exp)) return;
    this.tokens.set(token, claims);
  }

  /** Forgets `token`: its user no longer accepts it, so it will not be checked again. */
  delete(token: string): void {
    this.tokens?.delete(token);
  }

  get size(): number {
    return this.tokens?.size ?? 0;
  }
}
