import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidateBy } from 'class-validator';
import type { QuotaSetting, QuotaStatus } from '../quota.js';

export class UsageDto {
  @ApiProperty({
    example: 9_961_472,
    description: 'Bytes of stored files, and those uploads in progress have announced',
  })
  bytes!: number;

  @ApiProperty({ example: 12, description: 'Stored files, and uploads in progress' })
  files!: number;
}

export class QuotaDto {
  @ApiProperty({ type: Number, nullable: true, example: 10_485_760, description: 'null: no limit' })
  bytes!: number | null;

  @ApiProperty({ type: Number, nullable: true, example: 1000, description: 'null: no limit' })
  files!: number | null;
}

/** A user's usage and the quota in force (their own, or the configured default). */
export function quotaFieldsOf(status: QuotaStatus): { usage: UsageDto; quota: QuotaDto } {
  return { usage: { ...status.usage }, quota: { ...status.quota } };
}

/**
 * A limit an admin sets for one user: a whole number (bytes or files), `"unlimited"`, or null
 * for the configured default (DEFAULT_QUOTA_BYTES, DEFAULT_QUOTA_FILES).
 */
export const QuotaSettingField = (unit: 'bytes' | 'files', example: number, read = false) =>
  applyDecorators(
    (read ? ApiProperty : ApiPropertyOptional)({
      oneOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', enum: ['unlimited'] },
      ],
      nullable: true,
      example,
      description:
        `The user's own limit of ${unit}: a whole number, \`"unlimited"\`, or null for the ` +
        `default (DEFAULT_QUOTA_${unit.toUpperCase()})`,
    }),
    ValidateBy({
      name: 'quotaSetting',
      validator: {
        // null passes as "back to the default" (`IsOptional` lets null and undefined through).
        validate: (value: unknown) =>
          value === 'unlimited' || (Number.isSafeInteger(value) && (value as number) >= 0),
        defaultMessage: (args) =>
          `${args?.property ?? unit} must be a whole number of ${unit} (0 or more), "unlimited", or null ` +
          'for the default',
      },
    }),
  );

export type { QuotaSetting };
