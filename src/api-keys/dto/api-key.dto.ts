import { ApiProperty } from '@nestjs/swagger';
import { SCOPES, type Scope } from '../../auth/scopes.js';
import type { ApiKey } from '../api-key.js';

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'nightly backup' })
  name!: string;

  @ApiProperty({ format: 'uuid', description: 'The user the key acts as' })
  ownerId!: string;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes!: Scope[];

  @ApiProperty({ format: 'date-time', example: '2026-11-21T17:40:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'null: never' })
  expiresAt!: string | null;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'When the key was last used, to the minute; null: never',
  })
  lastUsedAt!: string | null;

  static from(key: ApiKey): ApiKeyDto {
    return {
      id: key.id,
      name: key.name,
      ownerId: key.ownerId,
      scopes: key.scopes,
      createdAt: key.createdAt.toISOString(),
      expiresAt: key.expiresAt?.toISOString() ?? null,
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    };
  }
}

/** The answer to creating a key: the one time the key itself is shown. */
export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({
    example: 'fds_3q2-7wEJ…',
    description:
      'The key, to send as `Authorization: Bearer <key>`. Shown this once: only its hash is kept.',
  })
  key!: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] })
  items!: ApiKeyDto[];
}
