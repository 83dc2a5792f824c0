import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FileStore, WrittenBytes } from '../storage/file-store.js';
import { storageKeyOf } from '../storage/storage-key.js';
import type { PendingUploads } from './pending-uploads.js';

/**
 * One upload's temporary state, from its first byte to its registry row: the id and key it will
 * have, the bytes written under that key, and the mark that keeps every sweeper off them. Whoever
 * receives the upload (an HTTP request, the image blur) holds it, and either has it committed
 * (`FilesService.commit`) or discards it; discarding after the commit does nothing.
 */
export class PendingUpload {
  readonly id = randomUUID();
  readonly storageKey = storageKeyOf(this.id);
  private state: 'open' | 'committing' | 'committed' | 'discarded' = 'open';
  private source: Readable | undefined;
  private writing: Promise<WrittenBytes> | undefined;

  constructor(
    private readonly store: FileStore,
    private readonly pending: PendingUploads,
  ) {}

  /** Streams `source` into the store; once only. */
  write(source: Readable): Promise<WrittenBytes> {
    if (this.writing) throw new Error('an upload is written once');
    if (this.state === 'discarded') {
      source.destroy();
      return Promise.reject(new Error('the upload was discarded'));
    }
    this.source = source;
    this.writing = this.store.write(this.storageKey, source);
    return this.writing;
  }

  /**
   * Its registry row is being written: from now on only the commit's outcome decides what becomes
   * of the bytes (a discard asked meanwhile, say by a client leaving, does nothing).
   * @throws Error when it was discarded already
   */
  beginCommit(): void {
    if (this.state !== 'open') throw new Error(`the upload is ${this.state}, not open to commit`);
    this.state = 'committing';
  }

  /** Its registry row is in place (the same transaction removed its pending mark). */
  committed(): void {
    this.state = 'committed';
    this.pending.forget(this.storageKey);
  }

  /** Its registry row could not be written: the bytes and mark go. */
  async commitFailed(): Promise<void> {
    this.state = 'open';
    await this.discard();
  }

  /**
   * Stops a write in progress and removes whatever it left, bytes and mark. Does nothing once a
   * commit has begun. Never throws: what cannot be removed now is the sweeper's, once the mark is
   * stale.
   */
  async discard(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'discarded';
    this.source?.destroy();
    await this.writing?.catch(() => undefined);
    await this.store.remove(this.storageKey).catch(() => undefined);
    await this.pending.unmark(this.storageKey).catch(() => undefined);
  }
}
