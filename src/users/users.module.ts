import { Module } from '@nestjs/common';
import { QuotasModule } from '../quotas/quotas.module.js';
import { AdminUsersController } from './admin-users.controller.js';
import { PasswordHasher } from './password-hasher.js';
import { UserRepository } from './user-repository.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [QuotasModule],
  controllers: [AdminUsersController],
  providers: [UsersService, UserRepository, PasswordHasher],
  exports: [UsersService],
})
export class UsersModule {}
