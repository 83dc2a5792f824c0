import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsOptional, IsUUID } from 'class-validator';

export class ListApiKeysQueryDto {
  @ApiPropertyOptional({
    format: 'uuid',
    description: "Only this user's keys (an admin may name anyone, a user only themselves)",
  })
  @IsOptional()
  @IsUUID('all', { message: 'ownerId must be a UUID' })
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  )
  ownerId?: string;
}
