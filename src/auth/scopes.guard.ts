import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { listOf, REQUIRED_SCOPES } from './auth.decorators.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import type { Scope } from './scopes.js';
import { RouteDeclarations } from './route-declarations.js';

/**
 * Global, after `RolesGuard`: enforces `@Scopes(...)`. A route that declares none is closed to API
 * keys; sessions and provider tokens hold every scope of their role, so for them the role decides.
 */
@Injectable()
export class ScopesGuard implements CanActivate {
  constructor(private readonly declarations: RouteDeclarations) {}

  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const { user } = http.getRequest<Request & { user?: AuthenticatedUser }>();
    // A public route: nobody was authenticated.
    if (!user) return true;
    const required = this.declarations.get<Scope[]>(REQUIRED_SCOPES, context);
    if (required === undefined) {
      if (user.credential !== 'api-key') return true;
      throw new ForbiddenException('this route cannot be called with an API key');
    }
    const missing = required.filter((scope) => !user.scopes.has(scope));
    if (missing.length === 0) return true;
    // RFC 6750, 3.1: the scopes the route needs.
    http
      .getResponse<Response>()
      .setHeader(
        'WWW-Authenticate',
        `Bearer error="insufficient_scope", scope="${required.join(' ')}"`,
      );
    throw new ForbiddenException(
      `this route needs the ${listOf(missing)} scope${missing.length > 1 ? 's' : ''}`,
    );
  }
}
