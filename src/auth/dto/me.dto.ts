import { ApiProperty } from '@nestjs/swagger';
import { ROLES, type Role } from '../../users/user.js';

export class MeDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;
}
