import { Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { Database } from '../database/database.js';
import type { FilesTable, Tables } from '../database/tables.js';
import type { StoredFile, Viewer } from './stored-file.js';

/** A position in the newest-first listing: the last file of the previous page. */
export interface ListPosition {
  createdAt: number;
  id: string;
}

/**
 * The files table: UUID → storage key and metadata. Who may see a file is decided here and only
 * here: its owner, and every admin. A file someone may not see is, to them, a file that does not
 * exist.
 */
@Injectable()
export class FileRegistry {
  constructor(private readonly db: Database) {}

  async insert(file: StoredFile): Promise<void> {
    await this.db
      .insertInto('files')
      .values({ ...file, createdAt: file.createdAt.getTime() })
      .execute();
  }

  async findVisible(id: string, viewer: Viewer): Promise<StoredFile | undefined> {
    const row = await this.visibleTo(viewer).selectAll().where('id', '=', id).executeTakeFirst();
    return row && toStoredFile(row);
  }

  /** For signed links, whose signature already says the file may be fetched. */
  async find(id: string): Promise<StoredFile | undefined> {
    const row = await this.db
      .selectFrom('files')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toStoredFile(row);
  }

  /** Newest first (createdAt, then id, descending), `limit` at most, after `after`. */
  async list(viewer: Viewer, limit: number, after?: ListPosition): Promise<StoredFile[]> {
    let query = this.visibleTo(viewer).selectAll();
    if (after) {
      query = query.where((eb) =>
        eb(eb.refTuple('createdAt', 'id'), '<', eb.tuple(after.createdAt, after.id)),
      );
    }
    const rows = await query
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toStoredFile);
  }

  /** Removes the entry; returns it, or undefined when the viewer may not see it. */
  async deleteVisible(id: string, viewer: Viewer): Promise<StoredFile | undefined> {
    let query = this.db.deleteFrom('files').where('id', '=', id);
    if (viewer.role !== 'admin') query = query.where('ownerId', '=', viewer.id);
    const row = await query.returningAll().executeTakeFirst();
    return row && toStoredFile(row);
  }

  /** Removes every entry of `ownerId` (inside the caller's transaction); returns their storage keys. */
  async deleteAllOwnedBy(trx: Kysely<Tables>, ownerId: string): Promise<string[]> {
    const rows = await trx
      .deleteFrom('files')
      .where('ownerId', '=', ownerId)
      .returning('storageKey')
      .execute();
    return rows.map((row) => row.storageKey);
  }

  /** Which of `keys` some entry names. */
  async existingKeys(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('files')
      .select('storageKey')
      .where('storageKey', 'in', keys)
      .execute();
    return new Set(rows.map((row) => row.storageKey));
  }

  private visibleTo(viewer: Viewer) {
    const query = this.db.selectFrom('files');
    return viewer.role === 'admin' ? query : query.where('ownerId', '=', viewer.id);
  }
}

function toStoredFile(row: Selectable<FilesTable>): StoredFile {
  return { ...row, createdAt: new Date(row.createdAt) };
}
