import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsUUID,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { SCOPES, type Scope } from '../../auth/scopes.js';

/** Ten years: a key meant to last longer should have no expiry at all. */
const MAX_EXPIRES_IN = 315_360_000;

export class CreateApiKeyDto {
  @ApiProperty({ example: 'nightly backup', minLength: 1, maxLength: 100 })
  @Matches(/^[^\p{Cc}]{1,100}$/u, {
    message: 'name must be 1-100 characters, without control characters',
  })
  name!: string;

  @ApiProperty({
    enum: SCOPES,
    isArray: true,
    example: ['files:read'],
    description:
      "What the key may do; at most what its owner's role allows (`admin` for admins only). " +
      '`files:read`: list, read and download files; `files:write`: upload and delete files ' +
      '(with `files:read`, make signed links); `images`: blur images (with both `files:` ' +
      'scopes, stored ones); `admin`: the `/admin` routes.',
  })
  @IsArray({ message: `scopes must be a list of ${SCOPES.join(', ')}` })
  @ArrayNotEmpty({ message: 'scopes must not be empty' })
  @ArrayMaxSize(SCOPES.length)
  @IsIn(SCOPES, { each: true, message: `each scope must be one of ${SCOPES.join(', ')}` })
  scopes!: Scope[];

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_EXPIRES_IN,
    description: 'Seconds until the key expires; without it, the key never does',
  })
  @IsOptional()
  @IsInt({ message: `expiresIn must be an integer from 1 to ${MAX_EXPIRES_IN}` })
  @Min(1, { message: `expiresIn must be an integer from 1 to ${MAX_EXPIRES_IN}` })
  @Max(MAX_EXPIRES_IN, { message: `expiresIn must be an integer from 1 to ${MAX_EXPIRES_IN}` })
  expiresIn?: number;

  @ApiPropertyOptional({
    format: 'uuid',
    description: "The user the key belongs to (admins only); the caller's own by default",
  })
  @IsOptional()
  @IsUUID('all', { message: 'ownerId must be a UUID' })
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  )
  ownerId?: string;
}
