import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../user.js';
import { ROLES, type Role } from '../../common/caller.js';
import {
  QuotaDto,
  quotaFieldsOf,
  QuotaSettingField,
  UsageDto,
  type QuotaSetting,
} from '../../quotas/dto/quota.dto.js';
import type { QuotaStatus } from '../../quotas/quota.js';

export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;

  @ApiProperty({ format: 'date-time', example: '2026-11-21T17:40:00.000Z' })
  createdAt!: string;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: null,
    description:
      "Seconds a file of the user's lives when its upload names no `expiresIn`; null: until deleted",
  })
  defaultFileTtlSeconds!: number | null;

  @ApiProperty({ type: UsageDto })
  usage!: UsageDto;

  @ApiProperty({ type: QuotaDto, description: 'The quota in force: their own, else the default' })
  quota!: QuotaDto;

  @QuotaSettingField('bytes', 10_485_760, true)
  quotaBytes!: QuotaSetting;

  @QuotaSettingField('files', 1000, true)
  quotaFiles!: QuotaSetting;

  static from(user: User, quota: QuotaStatus): UserDto {
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      createdAt: user.createdAt.toISOString(),
      defaultFileTtlSeconds: user.defaultFileTtlSeconds,
      ...quotaFieldsOf(quota),
      quotaBytes: quota.settings.bytes,
      quotaFiles: quota.settings.files,
    };
  }
}

export class UserListDto {
  @ApiProperty({ type: [UserDto] })
  items!: UserDto[];
}
