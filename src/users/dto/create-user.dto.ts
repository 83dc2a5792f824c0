import type { Role } from '../../common/caller.js';
import { PasswordField, RoleField, UsernameField } from './user-fields.js';

export class CreateUserDto {
  @UsernameField()
  username!: string;

  @PasswordField(true)
  password!: string;

  @RoleField(true)
  role!: Role;
}
