import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Leases } from '../database/leases.js';
import { FileRegistry } from './file-registry.js';
import { FileStore } from './storage/file-store.js';
import { PendingUploads } from './upload/pending-uploads.js';

export interface SweepResult {
  /** False when another instance was sweeping: this pass did nothing. */
  swept: boolean;
  /** Uploads whose process died mid-way: their marks and bytes. */
  abandonedUploads: number;
  /** Stored bytes that no registry entry names and no upload is writing. */
  orphanedFiles: number;
  /** Writes a crash cut short: staged local files, incomplete S3 multipart uploads. */
  incompleteWrites: number;
}

/** Keys asked about in one query. */
const BATCH = 500;

/** How long one pass may hold the lease before renewing it. */
const LEASE_MS = 60_000;

const LEASE = 'storage-sweeper';

/**
 * Removes what a crash (or a failed cleanup) left behind, at start-up and then every
 * SWEEP_INTERVAL_SECONDS, on every instance but one at a time (a lease in the shared database).
 * Nothing younger than SWEEP_MIN_AGE_SECONDS goes, and nothing a registry entry names or an
 * upload in progress holds (`PendingUploads`): an upload marks its key before its first byte and
 * the transaction that inserts its row removes the mark, so a key is always claimed one way or
 * the other. Runs on the server only, never in the CLI.
 */
@Injectable()
export class StorageSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(StorageSweeper.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;

  constructor(
    private readonly config: AppConfig,
    private readonly store: FileStore,
    private readonly registry: FileRegistry,
    private readonly pendingUploads: PendingUploads,
    private readonly leases: Leases,
  ) {}

  onApplicationBootstrap(): void {
    // In the background: a large store must not hold up start-up.
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.config.sweeper.intervalSeconds * 1000);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; a pass asked for while one runs joins it. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.sweepUnderLease()
      .catch((error: unknown) => {
        this.logger.error(`sweep failed: ${String(error)}`);
        return { swept: false, abandonedUploads: 0, orphanedFiles: 0, incompleteWrites: 0 };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepUnderLease(): Promise<SweepResult> {
    if (!(await this.leases.acquire(LEASE, LEASE_MS))) {
      return { swept: false, abandonedUploads: 0, orphanedFiles: 0, incompleteWrites: 0 };
    }
    // A long pass keeps the lease; the timer's renewals stop with the pass.
    const renewal = setInterval(() => void this.leases.acquire(LEASE, LEASE_MS), LEASE_MS / 3);
    try {
      const cutoff = Date.now() - this.config.sweeper.minAgeSeconds * 1000;
      return {
        swept: true,
        abandonedUploads: await this.sweepAbandonedUploads(cutoff),
        orphanedFiles: await this.sweepOrphans(cutoff),
        incompleteWrites: await this.sweepIncompleteWrites(cutoff),
      };
    } finally {
      clearInterval(renewal);
      await this.leases.release(LEASE).catch(() => undefined);
    }
  }

  /**
   * Marks not renewed since `cutoff`: their process died. The mark goes first, and only while it
   * is still stale; a commit needs its mark, so bytes whose mark this removed can never be
   * registered afterwards.
   */
  private async sweepAbandonedUploads(cutoff: number): Promise<number> {
    let removed = 0;
    for (const key of await this.pendingUploads.staleKeys(cutoff)) {
      if (!(await this.pendingUploads.unmarkIfStale(key, cutoff))) continue;
      await this.store.remove(key);
      this.logger.log(`removed an upload abandoned mid-way: ${key}`);
      removed++;
    }
    return removed;
  }

  private async sweepOrphans(cutoff: number): Promise<number> {
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      const claimed = await this.registry.claimedKeys(batch);
      for (const key of batch.filter((k) => !claimed.has(k))) {
        await this.store.remove(key);
        this.logger.log(`removed stored bytes that no registry entry names: ${key}`);
        removed++;
      }
      batch = [];
    };
    for await (const { key, modifiedAt } of this.store.list()) {
      if (modifiedAt.getTime() > cutoff) continue;
      batch.push(key);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return removed;
  }

  private async sweepIncompleteWrites(cutoff: number): Promise<number> {
    let discarded = 0;
    for await (const write of this.store.incompleteWrites()) {
      if (write.startedAt.getTime() > cutoff) continue;
      // An upload still writing (a very long one) keeps its mark fresh.
      if ((await this.registry.claimedKeys([write.key])).has(write.key)) continue;
      await write.discard();
      this.logger.log(`discarded a write that never finished: ${write.key}`);
      discarded++;
    }
    return discarded;
  }
}
