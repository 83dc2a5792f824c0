import { IsOptional } from 'class-validator';
import type { Role } from '../../common/caller.js';
import { PasswordField, RoleField } from './user-fields.js';

export class UpdateUserDto {
  @IsOptional()
  @PasswordField(false)
  password?: string;

  @IsOptional()
  @RoleField(false)
  role?: Role;
}
