import { createSecretKey } from 'node:crypto';
import { Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { isUUID } from 'class-validator';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AppConfig } from '../config/app-config.js';
import { UsersService } from '../users/users.service.js';
import {
  AccessTokenClaims,
  AuthenticatedUser,
  JWT_ALGORITHM,
  JWT_AUDIENCE,
  JWT_ISSUER,
} from './authenticated-user.js';
import { VerifiedTokenCache, type VerifiedClaims } from './verified-token-cache.js';

/**
 * Verifies the bearer token (signature with the one pinned algorithm, expiry, issuer, audience),
 * then checks that its user still exists and has not changed password or role since it was issued.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy) {
  constructor(
    config: AppConfig,
    private readonly users: UsersService,
    private readonly verifiedTokens: VerifiedTokenCache,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject, not the string: given a string, jsonwebtoken first tries (and fails) to parse
      // it as a public key, on every request: a third of the CPU of a small authenticated download.
      secretOrKey: createSecretKey(Buffer.from(config.jwt.secret)) as unknown as Buffer,
      algorithms: [JWT_ALGORITHM],
      issuer: JWT_ISSUER,
      audience: JWT_AUDIENCE,
      passReqToCallback: true,
    });
  }

  /** Called by passport once the token is verified; `JwtAuthGuard` skips that for known tokens. */
  validate(request: Request, claims: VerifiedClaims): Promise<AuthenticatedUser> {
    this.verifiedTokens.set(request.headers.authorization, claims);
    return this.userOf(claims);
  }

  /** The token's user, as long as they exist and hold the token's version (checked every time). */
  async userOf(claims: AccessTokenClaims): Promise<AuthenticatedUser> {
    const state = isUUID(claims.sub) ? await this.users.getAuthState(claims.sub) : null;
    if (!state || state.tokenVersion !== claims.ver) {
      throw new UnauthorizedException('the token has been revoked');
    }
    return { id: state.id, username: state.username, role: state.role };
  }
}
