import { Module } from '@nestjs/common';
import { FilesModule } from '../files/files.module.js';
import { UsersModule } from '../users/users.module.js';
import { AccountDeletion } from './account-deletion.js';
import { AdminAccountsController } from './admin-accounts.controller.js';

/** What spans a user and what they own: above users/ and files/, which know nothing of each other. */
@Module({
  imports: [UsersModule, FilesModule],
  controllers: [AdminAccountsController],
  providers: [AccountDeletion],
  exports: [AccountDeletion],
})
export class AccountsModule {}
