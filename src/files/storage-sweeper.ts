import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AuditTrail } from '../audit/audit-trail.js';
import { AppConfig } from '../config/app-config.js';
import { Leases } from '../database/leases.js';
import { Metrics, type CounterHandle } from '../metrics/metrics.js';
import { FileRegistry } from './file-registry.js';
import { FileStore, type IncompleteWrite, type StoredObject } from './storage/file-store.js';
import { ResumableUploads } from './resumable/resumable-uploads.service.js';
import { PendingUploads } from './upload/pending-uploads.js';

export interface SweepResult {
  /** False when another instance was sweeping: this pass did nothing. */
  swept: boolean;
  /** Uploads whose process died mid-way: their marks and bytes. */
  abandonedUploads: number;
  /** Resumable uploads past their expiry: unfinished ones with their bytes. */
  expiredUploads: number;
  /** Files past their `expiresAt`: their registry rows and bytes. */
  expiredFiles: number;
  /** Stored bytes that no registry entry names and no upload is writing. */
  orphanedFiles: number;
  /** Writes a crash cut short: staged local files, incomplete S3 multipart uploads. */
  incompleteWrites: number;
  /** Audit events older than AUDIT_RETENTION_DAYS. */
  auditEvents: number;
}

/** What a pass removes, each by a step of its own. */
type Removal = Exclude<keyof SweepResult, 'swept'>;

/** A pass some of whose steps failed: what the others removed, and what went wrong. */
class SweepFailedError extends Error {
  constructor(
    readonly result: SweepResult,
    failures: string[],
  ) {
    super(failures.join('; '));
  }
}

/** Keys asked about in one query. */
const BATCH = 500;

/** How long one pass may hold the lease before renewing it. */
const LEASE_MS = 60_000;

const LEASE = 'storage-sweeper';

const NOTHING_SWEPT: SweepResult = {
  swept: false,
  abandonedUploads: 0,
  expiredUploads: 0,
  expiredFiles: 0,
  orphanedFiles: 0,
  incompleteWrites: 0,
  auditEvents: 0,
};

/**
 * Removes what a crash (or a failed cleanup) left behind, and what has had its time (expired
 * files and resumable uploads, audit events past AUDIT_RETENTION_DAYS), at start-up and then every
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
  private readonly runs: CounterHandle<'outcome'>;
  private readonly removals: CounterHandle<'kind'>;

  constructor(
    private readonly config: AppConfig,
    private readonly store: FileStore,
    private readonly registry: FileRegistry,
    private readonly pendingUploads: PendingUploads,
    private readonly resumableUploads: ResumableUploads,
    private readonly leases: Leases,
    metrics: Metrics,
    private readonly audit: AuditTrail,
  ) {
    this.runs = metrics.counter(
      'files_sweeper_runs_total',
      'Sweeper passes, by outcome: swept, skipped (another instance held the lease), failed',
      ['outcome'],
    );
    this.removals = metrics.counter(
      'files_sweeper_removed_total',
      'What the sweeper removed, by kind (the fields of SweepResult): abandonedUploads, ' +
        'expiredUploads, expiredFiles, orphanedFiles, incompleteWrites, auditEvents',
      ['kind'],
    );
  }

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
      .then((result) => {
        this.count(result);
        return result;
      })
      .catch((error: unknown) => {
        this.logger.error(`sweep failed: ${String(error)}`);
        this.runs.inc({ outcome: 'failed' });
        if (!(error instanceof SweepFailedError)) return NOTHING_SWEPT;
        this.countRemovals(error.result);
        return error.result;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private count(result: SweepResult): void {
    this.runs.inc({ outcome: result.swept ? 'swept' : 'skipped' });
    this.countRemovals(result);
  }

  private countRemovals({ swept: _swept, ...removed }: SweepResult): void {
    for (const [kind, count] of Object.entries(removed)) {
      if (count > 0) this.removals.inc({ kind }, count);
    }
  }

  private async sweepUnderLease(): Promise<SweepResult> {
    if (!(await this.leases.acquire(LEASE, LEASE_MS))) {
      return NOTHING_SWEPT;
    }
    // A long pass keeps the lease; the timer's renewals stop with the pass.
    const renewal = setInterval(() => void this.leases.acquire(LEASE, LEASE_MS), LEASE_MS / 3);
    try {
      const cutoff = Date.now() - this.config.sweeper.minAgeSeconds * 1000;
      const steps: [Removal, () => Promise<number>][] = [
        ['abandonedUploads', () => this.sweepAbandonedUploads(cutoff)],
        // Before the orphans: the bytes of an expired upload go with it, not a pass later.
        ['expiredUploads', () => this.resumableUploads.sweepExpired()],
        ['expiredFiles', () => this.sweepExpiredFiles()],
        ['orphanedFiles', () => this.sweepOrphans(cutoff)],
        ['incompleteWrites', () => this.sweepIncompleteWrites(cutoff)],
        ['auditEvents', () => this.audit.removeExpired()],
      ];
      const result: SweepResult = { ...NOTHING_SWEPT, swept: true };
      // One step failing (the store out of reach, say) neither stops the others nor loses
      // what they removed; the pass then fails as a whole, once all have run.
      const failures: string[] = [];
      for (const [removal, step] of steps) {
        try {
          result[removal] = await step();
        } catch (error) {
          failures.push(`${removal}: ${String(error)}`);
        }
      }
      if (failures.length > 0) throw new SweepFailedError(result, failures);
      return result;
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

  /**
   * Files past their expiry, BATCH at a time until none is left: the row goes first, then the
   * bytes, as a deletion does. Bytes that cannot go now are orphans, for a later pass.
   */
  private async sweepExpiredFiles(): Promise<number> {
    let removed = 0;
    for (;;) {
      const files = await this.registry.deleteExpired(Date.now(), BATCH);
      for (const file of files) {
        const expired = `file ${file.id}, expired at ${file.expiresAt?.toISOString()}`;
        try {
          await this.store.remove(file.storageKey);
          this.logger.log(`removed ${expired}`);
        } catch (error) {
          this.logger.warn(
            `removed the entry of ${expired}, but not its bytes (${String(error)}): left to a later pass`,
          );
        }
      }
      removed += files.length;
      if (files.length < BATCH) return removed;
    }
  }

  private async sweepOrphans(cutoff: number): Promise<number> {
    const isOld = (object: StoredObject) => object.modifiedAt.getTime() <= cutoff;
    return this.forEachUnclaimed(this.store.list(), isOld, async ({ key }) => {
      await this.store.remove(key);
      this.logger.log(`removed stored bytes that no registry entry names: ${key}`);
    });
  }

  /** An upload still writing (a very long one) keeps its mark fresh: it is claimed. */
  private async sweepIncompleteWrites(cutoff: number): Promise<number> {
    const isOld = (write: IncompleteWrite) => write.startedAt.getTime() <= cutoff;
    return this.forEachUnclaimed(this.store.incompleteWrites(), isOld, async (write) => {
      await write.discard();
      this.logger.log(`discarded a write that never finished: ${write.key}`);
    });
  }

  /**
   * Runs `act` on each old item whose key no registry entry names and no pending mark holds,
   * asking the database about BATCH keys at a time; returns how many it ran on.
   */
  private async forEachUnclaimed<T extends { key: string }>(
    items: AsyncIterable<T>,
    isOld: (item: T) => boolean,
    act: (item: T) => Promise<void>,
  ): Promise<number> {
    let done = 0;
    let batch: T[] = [];
    const flush = async () => {
      const claimed = await this.registry.claimedKeys(batch.map((item) => item.key));
      for (const item of batch.filter((i) => !claimed.has(i.key))) {
        await act(item);
        done++;
      }
      batch = [];
    };
    for await (const item of items) {
      if (!isOld(item)) continue;
      batch.push(item);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return done;
  }
}
