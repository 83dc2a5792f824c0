import { Injectable } from '@nestjs/common';
import { isUUID } from 'class-validator';
import jwt from 'jsonwebtoken';
import { AppConfig } from '../config/app-config.js';
import { KeyRing } from '../common/key-ring.js';
import {
  type AccessTokenClaims,
  JWT_ALGORITHM,
  JWT_AUDIENCE,
  JWT_ISSUER,
} from './authenticated-user.js';
import { VerifiedTokenCache, type VerifiedClaims } from './verified-token-cache.js';

/**
 * Our own access tokens (`POST /auth/login`, `token:issue`): HS256 with the one pinned algorithm,
 * issuer and audience, signed with JWT_SECRET and named by its key id (`kid`). Tokens signed with
 * one of JWT_PREVIOUS_SECRETS keep working until that secret is dropped. jsonwebtoken rather than
 * jose: it computes the HMAC synchronously, where jose's WebCrypto would send every request's
 * verification to libuv's thread pool, which file I/O needs.
 */
@Injectable()
export class SessionTokens {
  private readonly keys: KeyRing;

  constructor(
    config: AppConfig,
    private readonly verified: VerifiedTokenCache,
  ) {
    this.keys = new KeyRing(config.jwt.secret, config.jwt.previousSecrets, 'jwt');
  }

  sign(claims: AccessTokenClaims, expiresInSeconds: number): string {
    const { id, key } = this.keys.current;
    return jwt.sign(claims, key, {
      algorithm: JWT_ALGORITHM,
      keyid: id,
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      expiresIn: expiresInSeconds,
    });
  }

  /** The claims of a token `verify` accepted before and that has not expired since, if any. */
  verifiedBefore(token: string): AccessTokenClaims | undefined {
    return this.verified.get(token);
  }

  /**
   * The claims of a token signed with one of our keys, checked (signature, expiry, issuer,
   * audience, a user id for subject); null for any other token. A token without a key id (issued
   * before tokens had one) is checked against each key. A token checked before costs a lookup
   * (`VerifiedTokenCache`).
   */
  verify(token: string, keyId: string | undefined): AccessTokenClaims | null {
    const known = this.verifiedBefore(token);
    if (known) return known;
    for (const { key } of this.keys.candidates(keyId)) {
      try {
        const claims = jwt.verify(token, key, {
          algorithms: [JWT_ALGORITHM],
          issuer: JWT_ISSUER,
          audience: JWT_AUDIENCE,
        });
        if (isAccessTokenClaims(claims)) {
          this.verified.set(token, claims);
          return claims;
        }
      } catch {
        // Not this key's, or not valid at all: try the next.
      }
    }
    return null;
  }
}

function isAccessTokenClaims(claims: unknown): claims is VerifiedClaims {
  return (
    typeof claims === 'object' &&
    claims !== null &&
    typeof (claims as VerifiedClaims).sub === 'string' &&
    isUUID((claims as VerifiedClaims).sub) &&
    typeof (claims as VerifiedClaims).ver === 'number' &&
    typeof (claims as VerifiedClaims).exp === 'number'
  );
}
