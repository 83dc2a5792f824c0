import { Module } from '@nestjs/common';
import { AdminUsersController } from './admin-users.controller.js';
import { PasswordHasher } from './password-hasher.js';
import { UserRepository } from './user-repository.js';
import { UsersService } from './users.service.js';

@Module({
  controllers: [AdminUsersController],
  providers: [UsersService, UserRepository, PasswordHasher],
  exports: [UsersService],
})
export class UsersModule {}
