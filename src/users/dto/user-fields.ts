import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import { ROLES } from '../../common/caller.js';

/** The rules of a username, password and role, shared by every DTO that takes one. */
export const UsernameField = () =>
  applyDecorators(
    ApiProperty({ example: 'alice', pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    IsString(),
    Matches(/^[A-Za-z0-9._-]{1,64}$/, {
      message: 'username must be 1-64 characters of A-Za-z0-9._-',
    }),
  );

const PASSWORD_MIN_LENGTH = 12;

export const PasswordField = (required: boolean) =>
  applyDecorators(
    (required ? ApiProperty : ApiPropertyOptional)({
      minLength: PASSWORD_MIN_LENGTH,
      maxLength: 1024,
      format: 'password',
    }),
    IsString(),
    MinLength(PASSWORD_MIN_LENGTH, {
      message: `password must be at least ${PASSWORD_MIN_LENGTH} characters`,
    }),
    MaxLength(1024),
  );

export const RoleField = (required: boolean) =>
  applyDecorators(
    (required ? ApiProperty : ApiPropertyOptional)({ enum: ROLES }),
    IsIn(ROLES, { message: `role must be one of ${ROLES.join(', ')}` }),
  );
