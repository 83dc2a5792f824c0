import { Module } from '@nestjs/common';
import { AdminUsersController } from './admin-users.controller.js';
import { PasswordHasher } from './password-hasher.js';
import { UserDeletion } from './user-deletion.service.js';
import { UsersService } from './users.service.js';

@Module({
  controllers: [AdminUsersController],
  providers: [UsersService, PasswordHasher, UserDeletion],
  exports: [UsersService, UserDeletion],
})
export class UsersModule {}
