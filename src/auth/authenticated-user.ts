import type { Role } from '../users/user.js';

/** The caller of an authenticated request, as `JwtStrategy` puts it on `request.user`. */
export interface AuthenticatedUser {
  id: string;
  username: string;
  role: Role;
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
