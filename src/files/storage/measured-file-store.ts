import type { Readable } from 'node:stream';
import type { OnModuleDestroy } from '@nestjs/common';
import type { HistogramHandle, Metrics } from '../../metrics/metrics.js';
import {
  FileStore,
  type AppendedBytes,
  type ByteRange,
  type IncompleteWrite,
  type PresignOptions,
  type ResumableWrite,
  type StoredObject,
  type WrittenBytes,
} from './file-store.js';

type StoreLabel = 'operation' | 'outcome';

/**
 * `store` with each operation timed into `files_store_operation_duration_seconds`, by operation
 * and outcome (ok, error): the whole store, local or S3, is measured the same way. A write or an
 * append takes as long as its client sends, and fails when the client goes away: their errors are
 * not all the store's. `list` and `incompleteWrites` (the sweeper's, page by page) pass through.
 * With metrics off, `store` itself is used.
 */
export function measuredFileStore(store: FileStore, metrics: Metrics): FileStore {
  if (!metrics.enabled) return store;
  return new MeasuredFileStore(
    store,
    metrics.histogram(
      'files_store_operation_duration_seconds',
      'File store operations (local disk or S3), by operation and outcome (ok, error): the error ' +
        'count is the _count of outcome="error"',
      ['operation', 'outcome'],
    ),
  );
}

class MeasuredFileStore extends FileStore implements OnModuleDestroy {
  constructor(
    private readonly store: FileStore,
    private readonly durations: HistogramHandle<StoreLabel>,
  ) {
    super();
  }

  /** Nest calls the hook of the provider it holds (this one): the store's goes on from here. */
  async onModuleDestroy(): Promise<void> {
    await (this.store as Partial<OnModuleDestroy>).onModuleDestroy?.();
  }

  write(key: string, source: Readable): Promise<WrittenBytes> {
    return this.timed('write', () => this.store.write(key, source));
  }

  startResumable(key: string, length: number): Promise<ResumableWrite> {
    return this.timed('start_resumable', () => this.store.startResumable(key, length));
  }

  appendResumable(
    key: string,
    write: ResumableWrite,
    source: AsyncIterable<Buffer>,
    accepted: (chunk: Buffer) => void,
  ): Promise<AppendedBytes> {
    return this.timed('append_resumable', () =>
      this.store.appendResumable(key, write, source, accepted),
    );
  }

  completeResumable(key: string, write: ResumableWrite): Promise<void> {
    return this.timed('complete_resumable', () => this.store.completeResumable(key, write));
  }

  abortResumable(key: string, write: ResumableWrite): Promise<void> {
    return this.timed('abort_resumable', () => this.store.abortResumable(key, write));
  }

  /** Until the stream is open (the first bytes are on their way), not until it is read. */
  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.timed('read', () => this.store.read(key, range));
  }

  stat(key: string): Promise<StoredObject | undefined> {
    return this.timed('stat', () => this.store.stat(key));
  }

  remove(key: string): Promise<void> {
    return this.timed('remove', () => this.store.remove(key));
  }

  list(): AsyncIterable<StoredObject> {
    return this.store.list();
  }

  incompleteWrites(): AsyncIterable<IncompleteWrite> {
    return this.store.incompleteWrites();
  }

  check(): Promise<void> {
    return this.timed('check', () => this.store.check());
  }

  override presignedUrl(key: string, options: PresignOptions): Promise<string | undefined> {
    return this.timed('presign', () => this.store.presignedUrl(key, options));
  }

  private async timed<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const result = await work();
      outcome = 'ok';
      return result;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.durations.observe({ operation, outcome }, seconds);
    }
  }
}
