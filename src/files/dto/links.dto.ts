import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { DISPOSITIONS, type Disposition } from '../../common/content-disposition.js';

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
