import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import type { Role } from '../../common/caller.js';
import { LONGEST_FILE_LIFETIME_SECONDS } from '../../common/file-lifetime.js';
import { QuotaSettingField, type QuotaSetting } from '../../quotas/dto/quota.dto.js';
import { PasswordField, RoleField } from './user-fields.js';

const FILE_TTL_MESSAGE = `defaultFileTtlSeconds must be null or a whole number of seconds from 1 to ${LONGEST_FILE_LIFETIME_SECONDS}`;

export class UpdateUserDto {
  @IsOptional()
  @PasswordField(false)
  password?: string;

  @IsOptional()
  @RoleField(false)
  role?: Role;

  @ApiPropertyOptional({
    type: 'integer',
    nullable: true,
    minimum: 1,
    example: 2_592_000,
    description:
      "Seconds a file of the user's lives when its upload names no `expiresIn` (counted from " +
      'the upload); `null` takes it away (files live until deleted). At most ' +
      'MAX_FILE_TTL_SECONDS when that is set (400 otherwise). Files already stored keep theirs.',
  })
  // Not @IsOptional(): it would let null through unchecked, and null means something here.
  @ValidateIf((_, value) => value !== undefined && value !== null)
  @IsInt({ message: FILE_TTL_MESSAGE })
  @Min(1, { message: FILE_TTL_MESSAGE })
  @Max(LONGEST_FILE_LIFETIME_SECONDS, { message: FILE_TTL_MESSAGE })
  defaultFileTtlSeconds?: number | null;

  @IsOptional()
  @QuotaSettingField('bytes', 10_485_760)
  quotaBytes?: QuotaSetting;

  @IsOptional()
  @QuotaSettingField('files', 1000)
  quotaFiles?: QuotaSetting;
}
