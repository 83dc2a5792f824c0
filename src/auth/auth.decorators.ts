import {
  applyDecorators,
  createParamDecorator,
  ExecutionContext,
  SetMetadata,
} from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ErrorDto } from '../common/error.dto.js';
import type { Role } from '../common/caller.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import type { Scope } from './scopes.js';

export const IS_PUBLIC = 'auth:public';
export const REQUIRED_ROLES = 'auth:roles';
export const REQUIRED_SCOPES = 'auth:scopes';

/** The route needs no token. Every other route does (`BearerAuthGuard` is global). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only users with one of these roles may call the route; others get 403. */
export const Roles = (...roles: Role[]) => SetMetadata(REQUIRED_ROLES, roles);

/**
 * The scopes a credential needs, all of them, to call the route (403 otherwise); `@Scopes()` with
 * none: any credential. A route without `@Scopes` is closed to API keys: a key reaches only the
 * routes that say it may.
 */
export const Scopes = (...scopes: Scope[]) =>
  applyDecorators(
    SetMetadata(REQUIRED_SCOPES, scopes),
    ApiExtension('x-required-scopes', scopes),
    ...(scopes.length === 0
      ? []
      : [
          ApiForbiddenResponse({
            type: ErrorDto,
            description:
              // The admin scope's routes need the admin role too.
              (scopes.includes('admin') ? 'The caller is not an admin, or is an' : 'An') +
              ` API key without the ${listOf(scopes.map((s) => `\`${s}\``))} scope` +
              (scopes.length > 1 ? 's' : ''),
          }),
        ]),
  );

/** A controller of the admin API: admins only, and API keys with the `admin` scope. */
export const AdminApi = () =>
  applyDecorators(ApiTags('admin'), ApiBearerAuth(), Scopes('admin'), Roles('admin'));

/** "a", "a and b", "a, b and c". */
export function listOf(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The user the request's credential belongs to. */
export const CurrentUser = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedUser =>
    context.switchToHttp().getRequest<Request & { user: AuthenticatedUser }>().user,
);
