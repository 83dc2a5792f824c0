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

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: null,
    description:
      "Seconds a file of the user's lives when its upload names no `expiresIn`; null: until deleted",
  })
  defaultFileTtlSeconds!: number | null;

  static from(user: User): UserDto {
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      createdAt: user.createdAt.toISOString(),
      defaultFileTtlSeconds: user.defaultFileTtlSeconds,
    };
  }
}

export class UserListDto {
  @ApiProperty({ type: [UserDto] })
  items!: UserDto[];
}
