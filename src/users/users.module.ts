import { Module } from '@nestjs/common';
import { FilesModule } from '../files/files.module.js';
import { AdminUsersController } from './admin-users.controller.js';
import { PasswordHasher } from './password-hasher.js';
import { UserDeletion } from './user-deletion.service.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [FilesModule],
  controllers: [AdminUsersController],
  providers: [UsersService, PasswordHasher, UserDeletion],
  exports: [UsersService, UserDeletion],
})
export class UsersModule {}
