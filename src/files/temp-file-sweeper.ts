import { opendir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { TempFiles } from '../common/temp-files/temp-files.service.js';
import { AppConfig } from '../config/app-config.js';
import { FileRegistry } from './file-registry.js';
import { FilesService } from './files.service.js';
import { FileStore } from './storage/file-store.js';

export interface SweepResult {
  tempFiles: number;
  orphanedFiles: number;
}

/** Keys asked about in one query. */
const BATCH = 500;

/**
 * Removes what a crash (or a failed cleanup) left behind, at start-up and then every
 * SWEEP_INTERVAL_SECONDS: temp files older than SWEEP_MIN_AGE_SECONDS that no live request holds,
 * and stored bytes that no registry row names, once as old (a commit writes the bytes just before
 * the row). Runs on the server only, never in the CLI.
 */
@Injectable()
export class TempFileSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(TempFileSweeper.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepResult>;

  constructor(
    private readonly config: AppConfig,
    private readonly tempFiles: TempFiles,
    private readonly store: FileStore,
    private readonly registry: FileRegistry,
    private readonly files: FilesService,
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
    this.running ??= this.sweepOnce()
      .catch((error: unknown) => {
        this.logger.error(`sweep failed: ${String(error)}`);
        return { tempFiles: 0, orphanedFiles: 0 };
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(): Promise<SweepResult> {
    const cutoff = Date.now() - this.config.sweeper.minAgeSeconds * 1000;
    return {
      tempFiles: await this.sweepTempFiles(cutoff),
      orphanedFiles: await this.sweepOrphans(cutoff),
    };
  }

  private async sweepTempFiles(cutoff: number): Promise<number> {
    let removed = 0;
    for await (const entry of await opendir(this.tempFiles.dir)) {
      const path = join(this.tempFiles.dir, entry.name);
      if (!entry.isFile() || this.tempFiles.isInUse(path)) continue;
      const modified = await stat(path).then(
        (s) => s.mtimeMs,
        () => Infinity,
      );
      if (modified > cutoff) continue;
      await rm(path, { force: true });
      this.logger.log(`removed the leftover temp file ${entry.name}`);
      removed++;
    }
    return removed;
  }

  private async sweepOrphans(cutoff: number): Promise<number> {
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      // In-flight commits first, the registry after. A commit puts the bytes, inserts the row,
      // then stops committing; a key the store listed has had its bytes put already, so a key
      // not committing now has its row in place (seen by the query that follows) or its commit
      // failed. Asked the other way round, a commit could land between query and check, and the
      // bytes of a registered file would go.
      const settled = batch.filter((key) => !this.files.isCommitting(key));
      const named = await this.registry.existingKeys(settled);
      for (const key of settled.filter((k) => !named.has(k))) {
        await this.store.remove(key);
        this.logger.log(`removed stored bytes that no registry entry names: ${key}`);
        removed++;
      }
      batch = [];
    };
    for await (const { key, modifiedAt } of this.store.keys()) {
      if (modifiedAt.getTime() > cutoff) continue;
      batch.push(key);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return removed;
  }
}
