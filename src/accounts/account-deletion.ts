import { Injectable } from '@nestjs/common';
import type { AuditScene } from '../audit/audit-scene.js';
import { FilesService, type DeletedFiles } from '../files/files.service.js';
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
   * registry entries go in the same transaction as the user, and their bytes right after, each
   * file's deletion audited as one of its own would be.
   */
  async delete(
    userId: string,
    { deleteFiles }: { deleteFiles: boolean },
    scene: AuditScene,
  ): Promise<void> {
    let files: DeletedFiles = [];
    await this.users.delete(
      userId,
      scene,
      deleteFiles
        ? async (trx) => {
            files = await this.files.deleteEntriesOwnedBy(trx, userId);
          }
        : undefined,
    );
    await this.files.removeFilesOf(userId, files, scene);
  }
}
