import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { IS_PUBLIC } from './auth.decorators.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { BearerAuthenticator } from './bearer-authenticator.js';
import { RouteDeclarations } from './route-declarations.js';

/**
 * Global: every route needs a valid bearer credential (a token from `POST /auth/login`, an API
 * key, or the configured OpenID Connect provider's access token) unless it is `@Public()`. A
 * failure that is not about the credential (the database is down, say) is not a 401.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly declarations: RouteDeclarations,
    private readonly authenticator: BearerAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.declarations.get<boolean>(IS_PUBLIC, context);
    if (isPublic) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { user?: AuthenticatedUser }>();
    const sent = request.headers.authorization;
    const token = sent === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(sent)?.[1];
    const user = token === undefined ? null : await this.authenticator.authenticate(token);
    if (user) {
      request.user = user;
      return true;
    }
    http
      .getResponse<Response>()
      .setHeader(
        'WWW-Authenticate',
        sent !== undefined ? 'Bearer error="invalid_token"' : 'Bearer',
      );
    throw new UnauthorizedException(
      sent !== undefined
        ? 'the bearer token is invalid, expired or revoked'
        : 'a bearer token is required',
    );
  }
}
