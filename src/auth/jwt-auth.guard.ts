import { ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { Request, Response } from 'express';
import { IS_PUBLIC } from './auth.decorators.js';

/** Global: every route needs a valid bearer token unless it is marked `@Public()`. */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    return isPublic || super.canActivate(context);
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
