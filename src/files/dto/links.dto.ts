import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { DISPOSITIONS, type Disposition } from '../../common/content-disposition.js';

export class DownloadQueryDto {
  @ApiPropertyOptional({
    enum: DISPOSITIONS,
    default: 'attachment',
    description: 'inline is honoured for raster images, PDF, plain text, audio and video only',
  })
  @IsOptional()
  @IsIn(DISPOSITIONS, { message: 'disposition must be attachment or inline' })
  disposition: Disposition = 'attachment';
}

export class CreateLinkDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: 86_400,
    default: 300,
    description: 'Seconds until the link expires',
  })
  @IsOptional()
  @IsInt({ message: 'expiresIn must be an integer from 1 to 86400' })
  @Min(1, { message: 'expiresIn must be an integer from 1 to 86400' })
  @Max(86_400, { message: 'expiresIn must be an integer from 1 to 86400' })
  expiresIn = 300;

  @ApiPropertyOptional({
    enum: DISPOSITIONS,
    default: 'attachment',
    description: 'Fixed in the link',
  })
  @IsOptional()
  @IsIn(DISPOSITIONS, { message: 'disposition must be attachment or inline' })
  disposition: Disposition = 'attachment';
}

export class LinkDto {
  @ApiProperty({
    example:
      'http://localhost:3000/files/…/signed-download?expires=1795317600&disposition=attachment&kid=…&signature=…',
    description: 'Downloads the file (GET or HEAD) with no Authorization header until it expires',
  })
  url!: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
}

/** A signed link's query, taken as it comes: the signature decides whether any of it is valid. */
export class SignedDownloadQueryDto {
  @ApiProperty({ description: 'Expiry, in seconds since the epoch' })
  @IsOptional()
  @IsString()
  expires?: string;

  @ApiProperty({ enum: DISPOSITIONS })
  @IsOptional()
  @IsString()
  disposition?: string;

  @ApiPropertyOptional({
    description:
      'Id of the key that signed the link (absent from links made before keys were rotated)',
  })
  @IsOptional()
  @IsString()
  kid?: string;

  @ApiProperty()
  @IsOptional()
  @IsString()
  signature?: string;
}
