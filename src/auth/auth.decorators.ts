import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { Request } from 'express';
import type { Role } from '../users/user.js';
import type { AuthenticatedUser } from './authenticated-user.js';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_ROLES = 'auth:roles';

/** The route needs no token. Every other route does (`JwtAuthGuard` is global). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only users with one of these roles may call the route; others get 403. */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);

/** The user the request's token belongs to. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedUser =>
    context.switchToHttp().getRequest<Request & { user: AuthenticatedUser }>().user,
);
