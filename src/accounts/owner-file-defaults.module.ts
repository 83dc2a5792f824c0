import { Global, Injectable, Module } from '@nestjs/common';
import { OwnerFileDefaults } from '../files/file-lifetimes.js';
import { UsersModule } from '../users/users.module.js';
import { UsersService } from '../users/users.service.js';

/** An owner's default file lifetime, for files/, from their account in users/. */
@Injectable()
class AccountFileDefaults extends OwnerFileDefaults {
  constructor(private readonly users: UsersService) {
    super();
  }

  defaultFileTtlSeconds(ownerId: string): Promise<number | null> {
    return this.users.defaultFileTtlSeconds(ownerId);
  }
}

/**
 * Gives files/ its owners' default lifetimes without files/ knowing users/. Global because
 * FilesModule cannot import it: AccountsModule, above both, imports FilesModule.
 */
@Global()
@Module({
  imports: [UsersModule],
  providers: [{ provide: OwnerFileDefaults, useClass: AccountFileDefaults }],
  exports: [OwnerFileDefaults],
})
export class OwnerFileDefaultsModule {}
