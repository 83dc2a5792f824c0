import { Injectable } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { Database } from '../../database/database.js';
import type { ResumableUploadsTable, Tables } from '../../database/tables.js';

/** A tus upload as the shared database keeps it, between its requests. */
export interface ResumableUpload {
  id: string;
  ownerId: string;
  storageKey: string;
  length: number;
  /** Bytes durable so far. */
  offset: number;
  filename: string | undefined;
  filetype: string | undefined;
  /** The store's record of the write (`ResumableWrite.state`). */
  storeState: string;
  /** The SHA-256 of the first `offset` bytes, as a saved hash state. */
  hashState: Buffer;
  /** The first bytes (up to HEAD_BYTES). */
  head: Buffer;
  createdAt: Date;
  expiresAt: Date;
  /** When its registry row went in; the file's id is the upload's. */
  completedAt: Date | undefined;
  /** Seconds the file is to live from its completion; undefined: its owner's default. */
  fileExpiresIn: number | undefined;
}

/** What an append changes (its head bytes only while they grow). */
export interface UploadProgress {
  offset: number;
  storeState: string;
  hashState: Buffer;
  head?: Buffer;
  expiresAt: Date;
}

/**
 * The resumable_uploads table. One append at a time per upload, across instances: an append
 * holds the upload's lock (`lockedBy`, until `lockedUntil`), renews it while it runs, and saves
 * its progress only while it still holds it.
 */
@Injectable()
export class ResumableUploadRepository {
  constructor(private readonly db: Database) {}

  /**
   * Inserts `upload` in a transaction that runs `claim` first: the caller's check that the upload
   * fits (its owner's quota), which holds when the row goes in.
   */
  async insert(
    upload: ResumableUpload,
    claim: (trx: Kysely<Tables>) => Promise<void>,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await claim(trx);
      await trx
        .insertInto('resumableUploads')
        .values({
          ...upload,
          filename: upload.filename ?? null,
          filetype: upload.filetype ?? null,
          createdAt: upload.createdAt.getTime(),
          expiresAt: upload.expiresAt.getTime(),
          completedAt: null,
          fileExpiresIn: upload.fileExpiresIn ?? null,
        })
        .execute();
    });
  }

  async find(id: string): Promise<ResumableUpload | undefined> {
    const row = await this.db
      .selectFrom('resumableUploads')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toResumableUpload(row);
  }

  /** Takes the upload's lock for `holder` until `until`, unless someone else holds it. */
  async lock(id: string, holder: string, until: number): Promise<boolean> {
    const result = await this.db
      .updateTable('resumableUploads')
      .set({ lockedBy: holder, lockedUntil: until })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb('lockedUntil', 'is', null),
          eb('lockedUntil', '<=', Date.now()),
          eb('lockedBy', '=', holder),
        ]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Extends `holder`'s lock until `until`; false when it is no longer theirs. */
  async renew(id: string, holder: string, until: number): Promise<boolean> {
    const result = await this.db
      .updateTable('resumableUploads')
      .set({ lockedUntil: until })
      .where('id', '=', id)
      .where('lockedBy', '=', holder)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async unlock(id: string, holder: string): Promise<void> {
    await this.db
      .updateTable('resumableUploads')
      .set({ lockedBy: null, lockedUntil: null })
      .where('id', '=', id)
      .where('lockedBy', '=', holder)
      .execute();
  }

  /**
   * Saves an append's progress, if `holder` still holds the lock and the upload still stands at
   * `from`, where the append began; with `unlock`, gives the lock up in the same statement (one
   * commit, one fsync, the fewer per append the better).
   */
  async saveProgress(
    id: string,
    holder: string,
    from: number,
    progress: UploadProgress,
    { unlock = false } = {},
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('resumableUploads')
      .set({
        offset: progress.offset,
        storeState: progress.storeState,
        hashState: progress.hashState,
        // Written while it grows only: past HEAD_BYTES it no longer changes.
        ...(progress.head && { head: progress.head }),
        expiresAt: progress.expiresAt.getTime(),
        ...(unlock && { lockedBy: null, lockedUntil: null }),
      })
      .where('id', '=', id)
      .where('lockedBy', '=', holder)
      .where('offset', '=', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('resumableUploads').where('id', '=', id).execute();
  }

  /** Uploads past their expiry that nobody holds, `limit` at most. */
  async expired(now: number, limit: number): Promise<ResumableUpload[]> {
    const rows = await this.db
      .selectFrom('resumableUploads')
      .selectAll()
      .where('expiresAt', '<=', now)
      .where((eb) => eb.or([eb('lockedUntil', 'is', null), eb('lockedUntil', '<=', now)]))
      .limit(limit)
      .execute();
    return rows.map(toResumableUpload);
  }
}

function toResumableUpload(row: Selectable<ResumableUploadsTable>): ResumableUpload {
  return {
    id: row.id,
    ownerId: row.ownerId,
    storageKey: row.storageKey,
    length: row.length,
    offset: row.offset,
    filename: row.filename ?? undefined,
    filetype: row.filetype ?? undefined,
    storeState: row.storeState,
    hashState: Buffer.from(row.hashState),
    head: Buffer.from(row.head),
    createdAt: new Date(row.createdAt),
    expiresAt: new Date(row.expiresAt),
    completedAt: row.completedAt === null ? undefined : new Date(row.completedAt),
    fileExpiresIn: row.fileExpiresIn ?? undefined,
  };
}
