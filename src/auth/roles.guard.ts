import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { Role } from '../common/caller.js';
import { REQUIRED_ROLES } from './auth.decorators.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { RouteDeclarations } from './route-declarations.js';

/** Global, after `BearerAuthGuard`: enforces `@Roles(...)`. */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly declarations: RouteDeclarations) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.declarations.get<Role[]>(REQUIRED_ROLES, context);
    if (!roles) return true;
    const { user } = context.switchToHttp().getRequest<Request & { user?: AuthenticatedUser }>();
    if (user && roles.includes(user.role)) return true;
    throw new ForbiddenException(`this route needs the ${roles.join(' or ')} role`);
  }
}
