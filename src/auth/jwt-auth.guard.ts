import { ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Request, Response } from 'express';
import { IS_PUBLIC } from './auth.decorators.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { JwtStrategy } from './jwt.strategy.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

/** Global: every route needs a valid bearer token unless it is marked `@Public()`. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(
    private readonly reflector: Reflector,
    private readonly strategy: JwtStrategy,
    private readonly verifiedTokens: VerifiedTokenCache,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    // A token verified before skips passport and the signature; its user is checked all the same.
    const request = context.switchToHttp().getRequest<Request & { user?: AuthenticatedUser }>();
    const claims = this.verifiedTokens.get(request.headers.authorization);
    if (!claims) return super.canActivate(context) as Promise<boolean>;
    const user = await this.strategy.userOf(claims).catch((error: unknown) => {
      if (!(error instanceof UnauthorizedException)) throw error;
      this.verifiedTokens.delete(request.headers.authorization!);
      return false as const;
    });
    request.user = this.handleRequest(undefined, user, undefined, context);
    return true;
  }

  override handleRequest<TUser>(
    error: unknown,
    user: TUser | false,
    _info: unknown,
    context: ExecutionContext,
  ): TUser {
    // A failure that is not about the token (the database is down, say) is not a 401.
    if (error instanceof Error && !(error instanceof UnauthorizedException)) throw error;
    if (user) return user;
    const http = context.switchToHttp();
    const sentToken = http.getRequest<Request>().headers.authorization !== undefined;
    http
      .getResponse<Response>()
      .setHeader('WWW-Authenticate', sentToken ? 'Bearer error="invalid_token"' : 'Bearer');
    throw new UnauthorizedException(
      sentToken ? 'the bearer token is invalid, expired or revoked' : 'a bearer token is required',
    );
  }
}
