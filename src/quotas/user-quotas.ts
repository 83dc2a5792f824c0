import { Injectable } from '@nestjs/common';
import { PostgresAdapter, type Kysely } from 'kysely';
import {
  NotFoundError,
  QuotaExceededError,
  UnauthenticatedError,
} from '../common/domain-errors.js';
import { AppConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';
import type { Tables } from '../database/tables.js';
import {
  formatBytes,
  type Quota,
  type QuotaSetting,
  type QuotaSettings,
  type QuotaStatus,
  type Usage,
} from './quota.js';

/** How the users table spells "no limit" in `quota_bytes` and `quota_files` (null: the default). */
const UNLIMITED = -1;

/** What an upload claims of its owner's quota: its bytes, and the file it is. */
export interface QuotaClaim {
  bytes: number;
  files: number;
}

/**
 * Per-user quotas of bytes and files. A user's usage is what the database says they hold, summed
 * when asked, so it can never drift from the truth: their registered files (`files`, unexpired),
 * the uploads in progress (`pending_uploads`: one file and the bytes each announced, held from
 * before their first byte until they are registered or discarded, or swept when their process
 * died) and their unfinished resumable uploads (`resumable_uploads`: one file and the announced length, until
 * completed or expired). The limits are the users table's `quota_bytes` and `quota_files`, over
 * DEFAULT_QUOTA_BYTES and DEFAULT_QUOTA_FILES.
 *
 * Taking a share (`claim`) checks and records it in one transaction that first locks the user's
 * row. Concurrent uploads of one user, through any number of instances sharing a PostgreSQL, are
 * thereby checked one after the other, each seeing what the ones before recorded: together they
 * cannot pass the quota. A per-user counter updated with a conditional `where` would serialise as
 * well, but it is one more thing to keep in step with the rows it counts (and to repair after a
 * crash); the sums over indexed columns are cheap beside an upload. The lock is `FOR NO KEY
 * UPDATE`, which does not wait for the key-share locks that inserting a file (whose owner is a
 * foreign key) takes on the user: registering one upload never waits for another's claim. On
 * SQLite the claim's transaction begins with a write, which takes the database's write lock (see
 * `lockSettings`), so claims through every connection to the file run one at a time.
 */
@Injectable()
export class UserQuotas {
  constructor(
    private readonly db: Database,
    private readonly config: AppConfig,
  ) {}

  /**
   * Records `claim` of `ownerId`'s quota in `trx` (whose next statement must record it: the
   * caller's insert of the upload), after checking that it fits.
   * @throws QuotaExceededError when it does not: the message names the quota and what is used
   * @throws UnauthenticatedError when the owner was deleted while their request was on its way
   */
  async claim(trx: Kysely<Tables>, ownerId: string, claim: QuotaClaim): Promise<void> {
    const settings = await this.lockSettings(trx, ownerId);
    if (!settings) throw new UnauthenticatedError('the user no longer exists');
    const quota = this.quotaOf(settings);
    if (quota.bytes === null && quota.files === null) return;
    const usage = await usageOf(trx, ownerId);
    if (quota.bytes !== null && usage.bytes + claim.bytes > quota.bytes) {
      throw new QuotaExceededError(
        `This upload would exceed your storage quota of ${formatBytes(quota.bytes)} ` +
          `(${formatBytes(usage.bytes)} used)`,
      );
    }
    if (quota.files !== null && usage.files + claim.files > quota.files) {
      throw new QuotaExceededError(
        `This upload would exceed your quota of ${quota.files} files (${usage.files} used)`,
      );
    }
  }

  /** @throws NotFoundError when there is no such user */
  async statusOf(userId: string): Promise<QuotaStatus> {
    const settings = await this.settingsOf(this.db, userId);
    if (!settings) throw new NotFoundError('user not found');
    return { usage: await usageOf(this.db, userId), quota: this.quotaOf(settings), settings };
  }

  /** Every user's status, by id (for the admin's list: one query per table, not per user). */
  async statusesOfAll(): Promise<Map<string, QuotaStatus>> {
    const users = await this.db
      .selectFrom('users')
      .select(['id', 'quotaBytes', 'quotaFiles'])
      .execute();
    const usages = await usagesOf(this.db);
    const statuses = new Map<string, QuotaStatus>();
    for (const row of users) {
      const settings = toSettings(row);
      statuses.set(row.id, {
        usage: usages.get(row.id) ?? { bytes: 0, files: 0 },
        quota: this.quotaOf(settings),
        settings,
      });
    }
    return statuses;
  }

  /**
   * Sets what is given of user `userId`'s own limits (null: back to the default). A lower limit
   * than what the user holds refuses their next uploads; it takes nothing away.
   * @throws NotFoundError when there is no such user
   */
  async set(userId: string, changes: Partial<QuotaSettings>): Promise<QuotaStatus> {
    const values = {
      ...(changes.bytes !== undefined && { quotaBytes: toColumn(changes.bytes) }),
      ...(changes.files !== undefined && { quotaFiles: toColumn(changes.files) }),
    };
    if (Object.keys(values).length > 0) {
      const result = await this.db
        .updateTable('users')
        .set(values)
        .where('id', '=', userId)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) throw new NotFoundError('user not found');
    }
    return this.statusOf(userId);
  }

  /** The status of a user with no files and no settings of their own. */
  fresh(): QuotaStatus {
    const settings = { bytes: null, files: null };
    return { usage: { bytes: 0, files: 0 }, quota: this.quotaOf(settings), settings };
  }

  private quotaOf(settings: QuotaSettings): Quota {
    const { defaultBytes, defaultFiles } = this.config.quotas;
    return {
      bytes: effective(settings.bytes, defaultBytes),
      files: effective(settings.files, defaultFiles),
    };
  }

  private async settingsOf(db: Kysely<Tables>, userId: string) {
    const row = await db
      .selectFrom('users')
      .select(['quotaBytes', 'quotaFiles'])
      .where('id', '=', userId)
      .executeTakeFirst();
    return row && toSettings(row);
  }

  /** The user's settings, with their row locked until `trx` ends (see the class comment). */
  private async lockSettings(trx: Kysely<Tables>, userId: string) {
    if (trx.getExecutor().adapter instanceof PostgresAdapter) {
      const row = await trx
        .selectFrom('users')
        .select(['quotaBytes', 'quotaFiles'])
        .where('id', '=', userId)
        .forNoKeyUpdate()
        .executeTakeFirst();
      return row && toSettings(row);
    }
    // SQLite has no row locks: a write takes the database's one write lock, waiting for it
    // (busy_timeout) while another connection holds it. As the transaction's first statement it
    // reads nothing stale, so what it sums next is the latest (a read first could not upgrade to
    // a write once another connection had written: SQLITE_BUSY_SNAPSHOT).
    const row = await trx
      .updateTable('users')
      .set((eb) => ({ quotaBytes: eb.ref('quotaBytes') }))
      .where('id', '=', userId)
      .returning(['quotaBytes', 'quotaFiles'])
      .executeTakeFirst();
    return row && toSettings(row);
  }
}

/** What `ownerId` holds now (see `UserQuotas`), as `db` (a transaction, perhaps) sees it. */
async function usageOf(db: Kysely<Tables>, ownerId: string): Promise<Usage> {
  return (await usagesOf(db, ownerId)).get(ownerId) ?? { bytes: 0, files: 0 };
}

/**
 * What each user holds now (only `ownerId`, when given), by user id; a user who holds nothing is
 * not in it. One statement, so one snapshot: in PostgreSQL's READ COMMITTED every statement sees
 * the commits made before it began, and a commit moving an upload from pending to registered
 * between two statements would be counted by neither.
 */
async function usagesOf(db: Kysely<Tables>, ownerId?: string): Promise<Map<string, Usage>> {
  const rows = await liveFiles(db)
    .select((eb) => [
      'ownerId',
      eb.fn.sum<string>('size').as('bytes'),
      eb.fn.countAll<number>().as('files'),
    ])
    .$if(ownerId !== undefined, (qb) => qb.where('ownerId', '=', ownerId!))
    .groupBy('ownerId')
    .unionAll(
      db
        .selectFrom('pendingUploads')
        .select((eb) => [
          'ownerId',
          eb.fn.sum<string>('reservedBytes').as('bytes'),
          eb.fn.countAll<number>().as('files'),
        ])
        .where('ownerId', 'is not', null)
        .$if(ownerId !== undefined, (qb) => qb.where('ownerId', '=', ownerId!))
        .groupBy('ownerId')
        .$narrowType<{ ownerId: string }>(),
    )
    .unionAll(
      unfinishedResumable(db)
        .select((eb) => [
          'ownerId',
          eb.fn.sum<string>('length').as('bytes'),
          eb.fn.countAll<number>().as('files'),
        ])
        .$if(ownerId !== undefined, (qb) => qb.where('ownerId', '=', ownerId!))
        .groupBy('ownerId'),
    )
    .execute();
  const usages = new Map<string, Usage>();
  for (const row of rows) {
    const usage = usages.get(row.ownerId) ?? { bytes: 0, files: 0 };
    usage.bytes += Number(row.bytes ?? 0);
    usage.files += Number(row.files);
    usages.set(row.ownerId, usage);
  }
  return usages;
}

/**
 * Files that still count: not expired. An expired file is gone for its owner at once (a 404,
 * which they cannot delete), so it frees their share then, not when the sweeper takes its bytes.
 */
function liveFiles(db: Kysely<Tables>) {
  const now = Date.now();
  return db
    .selectFrom('files')
    .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', now)]));
}

/**
 * Resumable uploads that still hold their length: not yet a file (then the file counts), and not
 * expired (one can no longer be appended to, and the sweeper removes it), unless an append still
 * holds it: that append renews its expiry as it saves, and its share must not be taken meanwhile.
 */
function unfinishedResumable(db: Kysely<Tables>) {
  const now = Date.now();
  return db
    .selectFrom('resumableUploads')
    .where('completedAt', 'is', null)
    .where((eb) => eb.or([eb('expiresAt', '>', now), eb('lockedUntil', '>', now)]));
}

function toSettings(row: { quotaBytes: number | null; quotaFiles: number | null }): QuotaSettings {
  return { bytes: fromColumn(row.quotaBytes), files: fromColumn(row.quotaFiles) };
}

function fromColumn(value: number | null): QuotaSetting {
  if (value === null) return null;
  return Number(value) === UNLIMITED ? 'unlimited' : Number(value);
}

function toColumn(setting: QuotaSetting): number | null {
  return setting === 'unlimited' ? UNLIMITED : setting;
}

function effective(setting: QuotaSetting, fallback: number | null): number | null {
  if (setting === 'unlimited') return null;
  return setting ?? fallback;
}
