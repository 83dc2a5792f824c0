import type { Readable } from 'node:stream';
import type { OnModuleDestroy } from '@nestjs/common';
import type { HistogramHandle, Labels, Metrics } from '../../metrics/metrics.js';
import {
  FileStore,
  type AppendedBytes,
  type ByteRange,
  type IncompleteWrite,
  type PresignOptions,
  type ResumableWrite,
  type StoredBytes,
  type StoredObject,
  type WrittenBytes,
} from './file-store.js';

type StoreLabel = 'operation' | 'outcome';

const OPERATIONS = [
  'write',
  'start_resumable',
  'append_resumable',
  'complete_resumable',
  'abort_resumable',
  'read',
  'stat',
  'remove',
  'check',
  'presign',
] as const;
type Operation = (typeof OPERATIONS)[number];

/** Each operation's labels, by outcome. */
const OUTCOME_LABELS = Object.fromEntries(
  OPERATIONS.map((operation) => [
    operation,
    {
      ok: { operation, outcome: 'ok' },
      error: { operation, outcome: 'error' },
    },
  ]),
) as Record<Operation, Record<'ok' | 'error', Labels<StoreLabel>>>;

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
  read(key: string, range?: ByteRange): Promise<StoredBytes> {
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

  /**
   * `work`'s promise, its time observed as it settles. No async wrapper (one promise fewer a call),
   * and the labels of each (operation, outcome) made once: `read` is on every download's path.
   */
  private timed<T>(operation: Operation, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let result: Promise<T>;
    try {
      result = work();
    } catch (error) {
      // Thrown before there was a promise: a rejection all the same, as from an async wrapper.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrown as is
      result = Promise.reject(error);
    }
    const labels = OUTCOME_LABELS[operation];
    return result.then(
      (value) => {
        this.durations.observe(labels.ok, (performance.now() - started) / 1000);
        return value;
      },
      (error: unknown) => {
        this.durations.observe(labels.error, (performance.now() - started) / 1000);
        throw error;
      },
    );
  }
}
