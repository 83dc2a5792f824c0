import { ApiProperty } from '@nestjs/swagger';
import type { User } from '../user.js';
import { ROLES, type Role } from '../../common/caller.js';

export class UserDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: Role;

  @ApiProperty({ format: 'date-time', example: '2026-11-21T17:40:00.000Z' })
  createdAt!: string;

  static from(user: User): UserDto {
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      createdAt: user.createdAt.toISOString(),
    };
  }
}

export class UserListDto {
  @ApiProperty({ type: [UserDto] })
  items!: UserDto[];
}
