import { IsOptional } from 'class-validator';
import type { Role } from '../../common/caller.js';
import { QuotaSettingField, type QuotaSetting } from '../../quotas/dto/quota.dto.js';
import { PasswordField, RoleField } from './user-fields.js';

export class UpdateUserDto {
  @IsOptional()
  @PasswordField(false)
  password?: string;

  @IsOptional()
  @RoleField(false)
  role?: Role;

  @IsOptional()
  @QuotaSettingField('bytes', 10_485_760)
  quotaBytes?: QuotaSetting;

  @IsOptional()
  @QuotaSettingField('files', 1000)
  quotaFiles?: QuotaSetting;
}
