import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { OUTPUT_FORMATS, type OutputFormat } from '../image-formats.js';

const SIGMA_RANGE = 'sigma must be a number from 0.3 to 100';

export class BlurQueryDto {
  @ApiPropertyOptional({
    minimum: 0.3,
    maximum: 100,
    default: 5,
    description: 'Standard deviation of the Gaussian blur, in pixels',
  })
  @IsOptional()
  @Type(() => Number)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: SIGMA_RANGE })
  @Min(0.3, { message: SIGMA_RANGE })
  @Max(100, { message: SIGMA_RANGE })
  sigma = 5;

  @ApiPropertyOptional({
    enum: OUTPUT_FORMATS,
    description: "The input's format when absent (PNG for GIF)",
  })
  @IsOptional()
  @IsIn(OUTPUT_FORMATS, { message: `format must be one of ${OUTPUT_FORMATS.join(', ')}` })
  format?: OutputFormat;
}
