import { ApiProperty } from '@nestjs/swagger';
import { ROLES, type Role } from '../../common/caller.js';
import type { Credential } from '../authenticated-user.js';
import { SCOPES, type Scope } from '../scopes.js';

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
}
