import { Injectable } from '@nestjs/common';
import { FilesService } from '../files/files.service.js';
import { UsersService } from './users.service.js';

/** Deleting a user, and on request everything they own. */
@Injectable()
export class UserDeletion {
  constructor(
    private readonly users: UsersService,
    private readonly files: FilesService,
  ) {}

  /**
   * Without `deleteFiles`, a user who owns files is refused (409). With it, their registry entries
   * go in the same transaction as the user, and their bytes right after.
   */
  async delete(id: string, { deleteFiles }: { deleteFiles: boolean }): Promise<void> {
    let keys: string[] = [];
    await this.users.delete(
      id,
      deleteFiles
        ? async (trx) => {
            keys = await this.files.deleteEntriesOwnedBy(trx, id);
          }
        : undefined,
    );
    await this.files.removeBytes(keys);
  }
}
