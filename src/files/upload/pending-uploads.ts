import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Database } from '../../database/database.js';
import { UserQuotas } from '../../quotas/user-quotas.js';

/** How often this process renews the marks of the writes it has in progress. */
const TOUCH_INTERVAL_MS = 15_000;

/** Keys renewed in one statement. */
const BATCH = 500;

/**
 * The shared database's list of keys being written whose registry row is not there yet. A key is
 * marked before its first byte is written and unmarked in the transaction that inserts its row
 * (`FileRegistry.insertFromPending`), so a key is always pending or registered until it is
 * removed: the sweeper of any instance keeps off both. While a write goes on, this process renews
 * its mark every 15 s; a mark not renewed for the sweeper's grace period (at least 60 s) was left
 * by a process that died, and the sweeper discards it with its bytes.
 *
 * A mark also holds its owner's quota (`UserQuotas`): one file and the bytes the upload announced,
 * claimed with it, and released with it, however it goes.
 */
@Injectable()
export class PendingUploads implements OnModuleDestroy {
  private readonly logger = new Logger(PendingUploads.name);
  private readonly live = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly quotas: UserQuotas,
  ) {
    this.timer = setInterval(() => void this.touchLive(), TOUCH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Uploads of this process on their way: marked, and neither registered nor discarded yet. */
  get inProgress(): number {
    return this.live.size;
  }

  /**
   * Marks `storageKey` as being written for `ownerId`, holding one file and `reservedBytes` of
   * their quota.
   * @throws QuotaExceededError when that does not fit: nothing is marked
   */
  async mark(storageKey: string, ownerId: string, reservedBytes: number): Promise<void> {
    const now = Date.now();
    await this.db.transaction().execute(async (trx) => {
      await this.quotas.claim(trx, ownerId, { bytes: reservedBytes, files: 1 });
      await trx
        .insertInto('pendingUploads')
        .values({ storageKey, createdAt: now, touchedAt: now, ownerId, reservedBytes })
        .execute();
    });
    this.live.add(storageKey);
  }

  /** The write is over: its key is registered (the registry unmarked it) or discarded. */
  async unmark(storageKey: string): Promise<void> {
    this.live.delete(storageKey);
    await this.db.deleteFrom('pendingUploads').where('storageKey', '=', storageKey).execute();
  }

  /** The registry unmarked it in its own transaction: stop renewing it. */
  forget(storageKey: string): void {
    this.live.delete(storageKey);
  }

  /** Keys whose mark was last renewed before `cutoff` (epoch ms): their writer died. */
  async staleKeys(cutoff: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('pendingUploads')
      .select('storageKey')
      .where('touchedAt', '<', cutoff)
      .execute();
    return rows.map((row) => row.storageKey);
  }

  /** Removes the mark of `storageKey` only if it is still stale: its writer may have come back. */
  async unmarkIfStale(storageKey: string, cutoff: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('pendingUploads')
      .where('storageKey', '=', storageKey)
      .where('touchedAt', '<', cutoff)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  private async touchLive(): Promise<void> {
    const keys = [...this.live];
    const now = Date.now();
    try {
      for (let i = 0; i < keys.length; i += BATCH) {
        await this.db
          .updateTable('pendingUploads')
          .set({ touchedAt: now })
          .where('storageKey', 'in', keys.slice(i, i + BATCH))
          .execute();
      }
    } catch (error) {
      // The next round tries again; a mark is stale only after the sweeper's whole grace period.
      this.logger.warn(`could not renew the marks of uploads in progress: ${String(error)}`);
    }
  }
}
