import type { Caller } from '../common/caller.js';
import type { Scope } from './scopes.js';

/**
 * What authenticated a request: a token from `POST /auth/login` (or the CLI), an access token from
 * the configured OpenID Connect provider, or an API key.
 */
export type Credential = 'session' | 'oidc' | 'api-key';

/** The caller of an authenticated request, as `BearerAuthGuard` puts it on `request.user`. */
export interface AuthenticatedUser extends Caller {
  username: string;
  credential: Credential;
  /** What this credential may do: checked against a route's `@Scopes()`. */
  scopes: ReadonlySet<Scope>;
}

/** The claims of our access tokens, beside the registered ones (iss, aud, iat, exp). */
export interface AccessTokenClaims {
  sub: string;
  /** The user's token version when the token was issued. */
  ver: number;
}

export const JWT_ISSUER = 'file-delivery-service';
export const JWT_AUDIENCE = 'file-delivery-service';
export const JWT_ALGORITHM = 'HS256';
