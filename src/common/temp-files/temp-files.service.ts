import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import { writeDigesting, type WrittenFile } from './digesting-writer.js';

interface RequestTempState {
  paths: Set<string>;
  /** The response is over: whatever is still tracked goes, and so does anything tracked later. */
  closed: boolean;
}

/**
 * Temp files under STORAGE_DIR/tmp, each belonging to the request that made it. What a request
 * has not released (committed elsewhere) by the time its response is over is removed, whether
 * the response succeeded, failed or the client went away (`TempFileCleanupMiddleware`).
 */
@Injectable()
export class TempFiles {
  readonly dir: string;
  private readonly logger = new Logger(TempFiles.name);
  private readonly requests = new WeakMap<object, RequestTempState>();
  /** Every temp file a live request holds in this process: the sweeper leaves them alone. */
  private readonly inUse = new Set<string>();

  constructor(config: AppConfig) {
    this.dir = join(config.storageDir, 'tmp');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Streams `source` into a new temp file of `request`, with its size and SHA-256. */
  async write(request: object, source: Readable, prefix: string): Promise<WrittenFile> {
    const path = join(this.dir, `${prefix}-${randomUUID()}`);
    this.track(request, path);
    try {
      return await writeDigesting(source, path);
    } catch (error) {
      await this.remove(request, path);
      throw error;
    }
  }

  /** `path` was moved away (committed): it is no longer this request's to remove. */
  release(request: object, path: string): void {
    this.stateOf(request).paths.delete(path);
    this.inUse.delete(path);
  }

  async remove(request: object, path: string): Promise<void> {
    this.release(request, path);
    await unlinkQuietly(path, this.logger);
  }

  /** The response of `request` is over: remove what it left. */
  async cleanUp(request: object): Promise<void> {
    const state = this.stateOf(request);
    state.closed = true;
    const paths = [...state.paths];
    state.paths.clear();
    await Promise.all(paths.map((path) => this.remove(request, path)));
  }

  isInUse(path: string): boolean {
    return this.inUse.has(path);
  }

  private track(request: object, path: string): void {
    const state = this.stateOf(request);
    // The response is over (the client left): a file made now would have no one to remove it.
    if (state.closed) throw new Error('the response is over: no temp file is made for it');
    this.inUse.add(path);
    state.paths.add(path);
  }

  private stateOf(request: object): RequestTempState {
    let state = this.requests.get(request);
    if (!state) this.requests.set(request, (state = { paths: new Set(), closed: false }));
    return state;
  }
}

async function unlinkQuietly(path: string, logger: Logger): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn(`could not remove the temp file ${path}: ${String(error)}; the sweeper will`);
    }
  }
}
