import { Injectable } from '@nestjs/common';
import type { AuditScene } from '../audit/audit-scene.js';
import { FilesService } from '../files/files.service.js';
import { UsersService } from '../users/users.service.js';

/**
 * Deleting a user, and on request everything they own: above both users/ and files/, so that
 * neither feature knows the other.
 */
@Injectable()
export class AccountDeletion {
  constructor(
    private readonly users: UsersService,
    private readonly files: FilesService,
  ) {}

  /**
   * Without `deleteFiles`, a user who owns files is refused (ConflictError). With it, their
   * registry entries go in the same transaction as the user, and their bytes right after.
   */
  async delete(
    userId: string,
    { deleteFiles }: { deleteFiles: boolean },
    scene: AuditScene,
  ): Promise<void> {
    let keys: string[] = [];
    await this.users.delete(
      userId,
      scene,
      deleteFiles
        ? async (trx) => {
            keys = await this.files.deleteEntriesOwnedBy(trx, userId);
          }
        : undefined,
    );
    await this.files.removeBytes(keys);
  }
}
