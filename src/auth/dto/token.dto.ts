import { ApiProperty } from '@nestjs/swagger';

/** OAuth2-style token response: the one body whose properties are snake_case. */
export class TokenDto {
  @ApiProperty({ description: 'A JWT to send as `Authorization: Bearer <token>`' })
  access_token!: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type!: 'Bearer';

  @ApiProperty({ description: 'Seconds until the token expires', example: 3600 })
  expires_in!: number;
}
