import { Injectable } from '@nestjs/common';
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';
import { UserQuotas } from '../quotas/user-quotas.js';
import type { FilesTable, Tables } from '../database/tables.js';
import { AUTH_STATE_TTL_MS } from '../common/cached-state.js';
import type { StoredFile } from './stored-file.js';
import type { Caller } from '../common/caller.js';

/** An upload's pending mark was swept before it could be registered. */
export class PendingMarkLostError extends Error {}

/** A resumable upload's lock passed to someone else (or the upload went) before its commit. */
export class UploadLockLostError extends Error {}

/** A position in the newest-first listing: the last file of the previous page. */
export interface ListPosition {
  createdAt: number;
  id: string;
}

/**
 * The files table: UUID → storage key and metadata. Who may see a file is decided here and only
 * here: its owner, and every admin. A file someone may not see is, to them, a file that does not
 * exist.
 *
 * Entries found by id are remembered (at most FILE_ENTRY_CACHE_ENTRIES), so a repeated download
 * costs no query: an entry never changes, it can only go. A deletion through this instance
 * forgets it at once; one through another instance is seen within AUTH_STATE_TTL_MS, the delay
 * every instance already allows a revoked token. A file not found is not remembered: one just
 * uploaded through another instance is found at once.
 *
 * A file past its `expiresAt` is not found, listed or deleted by anyone, from that very moment
 * (a remembered entry too): it no longer exists, and the sweeper removes its row and bytes
 * (`deleteExpired`).
 */
@Injectable()
export class FileRegistry {
  private readonly entries: LRUCache<string, StoredFile> | undefined;

  constructor(
    private readonly db: Database,
    private readonly quotas: UserQuotas,
    config: AppConfig,
  ) {
    const max = config.caches.fileEntries;
    this.entries = max > 0 ? new LRUCache({ max, ttl: AUTH_STATE_TTL_MS }) : undefined;
  }

  /**
   * Registers `file`, whose bytes were written under a pending mark (`PendingUploads`): the row
   * goes in and the mark goes out in one transaction, so at no moment is the key neither (which a
   * sweeper would take for an orphan).
   *
   * The mark held the bytes the upload announced of its owner's quota; the file now holds its
   * real size instead. When that is more (no size was announced: a chunked body, a blurred
   * image), the quota is checked here, in the same transaction.
   * @throws QuotaExceededError when the file does not fit its owner's quota
   */
  async insertFromPending(file: StoredFile): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const unmarked = await trx
        .deleteFrom('pendingUploads')
        .where('storageKey', '=', file.storageKey)
        .returning('reservedBytes')
        .executeTakeFirst();
      // A sweeper took the mark for abandoned (it went unrenewed for the whole grace period):
      // the bytes are gone or going, and must not be registered.
      if (!unmarked) throw new PendingMarkLostError(file.storageKey);
      if (file.size > Number(unmarked.reservedBytes)) {
        // The mark is gone from this transaction's view: the file claims its whole share.
        await this.quotas.claim(trx, file.ownerId, { bytes: file.size, files: 1 });
      }
      await trx.insertInto('files').values(toRow(file)).execute();
    });
  }

  /**
   * Registers `file`, the bytes of the resumable upload of the same id, which `holder` has locked:
   * the row goes in and the upload is marked completed in one transaction.
   */
  async insertFromResumable(file: StoredFile, holder: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const completed = await trx
        .updateTable('resumableUploads')
        .set({ completedAt: file.createdAt.getTime() })
        .where('id', '=', file.id)
        .where('lockedBy', '=', holder)
        .where('completedAt', 'is', null)
        .executeTakeFirst();
      if (Number(completed.numUpdatedRows) === 0) throw new UploadLockLostError(file.id);
      await trx.insertInto('files').values(toRow(file)).execute();
    });
  }

  async findVisible(id: string, viewer: Caller): Promise<StoredFile | undefined> {
    const file = await this.find(id);
    return file && isVisibleTo(file, viewer) ? file : undefined;
  }

  /** For signed links, whose signature already says the file may be fetched. */
  async find(id: string): Promise<StoredFile | undefined> {
    const now = Date.now();
    const known = this.entries?.get(id);
    if (known) return isExpired(known, now) ? undefined : known;
    const row = await this.db
      .selectFrom('files')
      .selectAll()
      .where('id', '=', id)
      .where(notExpiredAt(now))
      .executeTakeFirst();
    if (!row) return undefined;
    const file = toStoredFile(row);
    this.entries?.set(id, file);
    return file;
  }

  /** Newest first (createdAt, then id, descending), `limit` at most, after `after`. */
  async list(viewer: Caller, limit: number, after?: ListPosition): Promise<StoredFile[]> {
    let query = this.visibleTo(viewer).selectAll().where(notExpiredAt(Date.now()));
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
  async deleteVisible(id: string, viewer: Caller): Promise<StoredFile | undefined> {
    let query = this.db.deleteFrom('files').where('id', '=', id).where(notExpiredAt(Date.now()));
    if (viewer.role !== 'admin') query = query.where('ownerId', '=', viewer.id);
    const row = await query.returningAll().executeTakeFirst();
    this.entries?.delete(id);
    return row && toStoredFile(row);
  }

  /** Removes every entry of `ownerId` (inside the caller's transaction); returns their storage keys. */
  async deleteAllOwnedBy(
    trx: Kysely<Tables>,
    ownerId: string,
  ): Promise<{ id: string; storageKey: string }[]> {
    const rows = await trx
      .deleteFrom('files')
      .where('ownerId', '=', ownerId)
      .returning(['id', 'storageKey'])
      .execute();
    for (const row of rows) this.entries?.delete(row.id);
    return rows;
  }

  /**
   * Removes up to `limit` entries past their expiry at `now`, soonest expired first; returns them,
   * for their bytes to go next. An expired entry still claims its key until then (`claimedKeys`),
   * so its bytes never go before its row.
   */
  async deleteExpired(now: number, limit: number): Promise<StoredFile[]> {
    const rows = await this.db
      .deleteFrom('files')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('files')
          .select('id')
          .where('expiresAt', '<=', now)
          .orderBy('expiresAt')
          .limit(limit),
      )
      .returningAll()
      .execute();
    for (const row of rows) this.entries?.delete(row.id);
    return rows.map(toStoredFile);
  }

  /**
   * Which of `keys` an entry names, a pending mark holds or a resumable upload writes. One
   * statement, so one snapshot: a commit moving a key from marked to registered meanwhile cannot
   * make it look like neither.
   */
  async claimedKeys(keys: string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('files')
      .select('storageKey')
      .where('storageKey', 'in', keys)
      .union(
        this.db.selectFrom('pendingUploads').select('storageKey').where('storageKey', 'in', keys),
      )
      .union(
        this.db.selectFrom('resumableUploads').select('storageKey').where('storageKey', 'in', keys),
      )
      .execute();
    return new Set(rows.map((row) => row.storageKey));
  }

  /** `isVisibleTo`, as a query. */
  private visibleTo(viewer: Caller) {
    const query = this.db.selectFrom('files');
    return viewer.role === 'admin' ? query : query.where('ownerId', '=', viewer.id);
  }
}

function isVisibleTo(file: StoredFile, viewer: Caller): boolean {
  return viewer.role === 'admin' || file.ownerId === viewer.id;
}

function isExpired(file: StoredFile, now: number): boolean {
  return file.expiresAt !== null && file.expiresAt.getTime() <= now;
}

/** `isExpired`'s opposite, as a condition of a query. */
function notExpiredAt(now: number) {
  return (eb: ExpressionBuilder<Tables, 'files'>) =>
    eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', now)]);
}

function toStoredFile(row: Selectable<FilesTable>): StoredFile {
  return {
    ...row,
    createdAt: new Date(row.createdAt),
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt),
  };
}

function toRow(file: StoredFile): FilesTable {
  return {
    ...file,
    createdAt: file.createdAt.getTime(),
    expiresAt: file.expiresAt === null ? null : file.expiresAt.getTime(),
  };
}
