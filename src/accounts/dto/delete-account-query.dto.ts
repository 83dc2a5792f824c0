import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

export class DeleteAccountQueryDto {
  @ApiPropertyOptional({
    description: "Also delete the user's files (their bytes, registry entries and links).",
    default: false,
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' ? true : value === 'false' ? false : value,
  )
  @IsBoolean({ message: 'deleteFiles must be true or false' })
  deleteFiles = false;
}
