import { ApiProperty } from '@nestjs/swagger';
import { ROLES, type Role } from '../../common/caller.js';
import type { Credential } from '../authenticated-user.js';
import { SCOPES, type Scope } from '../scopes.js';
import { QuotaDto, UsageDto } from '../../quotas/dto/quota.dto.js';

const CREDENTIALS: Credential[] = ['session', 'oidc', 'api-key'];

export class MeDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;

  @ApiProperty({
    enum: CREDENTIALS,
    description:
      'What the request was authenticated by: a token from `POST /auth/login`, an access token ' +
      'of the OpenID Connect provider, or an API key',
  })
  credential!: Credential;

  @ApiProperty({
    enum: SCOPES,
    isArray: true,
    description: "What the credential may do: an API key's scopes, or every scope of the role",
  })
  scopes!: Scope[];

  @ApiProperty({
    type: UsageDto,
    description: 'What the user holds: stored files, and uploads in progress',
  })
  usage!: UsageDto;

  @ApiProperty({
    type: QuotaDto,
    description: "The user's quota (null: no limit); an upload past it is refused with 413",
  })
  quota!: QuotaDto;
}
