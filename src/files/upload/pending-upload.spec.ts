import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import {
  FileStore,
  type IncompleteWrite,
  type StoredObject,
  type WrittenBytes,
} from '../storage/file-store.js';
import { PendingUpload } from './pending-upload.js';
import type { PendingUploads } from './pending-uploads.js';

/** Keys and their bytes in memory: enough of a store to see what an upload leaves. */
class MemoryStore extends FileStore {
  readonly objects = new Map<string, Buffer>();

  async write(key: string, source: Readable): Promise<WrittenBytes> {
    const bytes = await buffer(source);
    this.objects.set(key, bytes);
    return { size: bytes.length, sha256: '', head: bytes };
  }
  read(key: string): Promise<Readable> {
    return Promise.resolve(Readable.from([this.objects.get(key)!]));
  }
  stat(): Promise<StoredObject | undefined> {
    return Promise.resolve(undefined);
  }
  remove(key: string): Promise<void> {
    this.objects.delete(key);
    return Promise.resolve();
  }
  async *list(): AsyncIterable<StoredObject> {}
  async *incompleteWrites(): AsyncIterable<IncompleteWrite> {}
  check(): Promise<void> {
    return Promise.resolve();
  }
  // Not what an upload of one request uses.
  startResumable(): never {
    throw new Error('not used here');
  }
  appendResumable(): never {
    throw new Error('not used here');
  }
  completeResumable(): never {
    throw new Error('not used here');
  }
  abortResumable(): never {
    throw new Error('not used here');
  }
}

/** The marks, as a set. */
function marks() {
  const keys = new Set<string>();
  const pending = {
    unmark: (key: string) => Promise.resolve(void keys.delete(key)),
    forget: () => undefined,
  } as unknown as PendingUploads;
  return { keys, pending };
}

describe('PendingUpload', () => {
  it('keeps its bytes when asked to discard while its commit is under way', async () => {
    const store = new MemoryStore();
    const { keys, pending } = marks();
    const upload = new PendingUpload(store, pending);
    keys.add(upload.storageKey);
    await upload.write(Readable.from([Buffer.from('bytes')]));

    upload.beginCommit();
    // The client leaves while the registry row is being written: its response closes.
    await upload.discard();
    upload.committed();

    expect(store.objects.has(upload.storageKey)).toBe(true);
    await upload.discard(); // after the commit too
    expect(store.objects.has(upload.storageKey)).toBe(true);
  });

  it('removes its bytes and mark when its commit fails, and cannot be committed once discarded', async () => {
    const store = new MemoryStore();
    const { keys, pending } = marks();
    const failing = new PendingUpload(store, pending);
    keys.add(failing.storageKey);
    await failing.write(Readable.from([Buffer.from('bytes')]));
    failing.beginCommit();
    await failing.commitFailed();
    expect(store.objects.has(failing.storageKey)).toBe(false);
    expect(keys.has(failing.storageKey)).toBe(false);

    const discarded = new PendingUpload(store, pending);
    await discarded.write(Readable.from([Buffer.from('bytes')]));
    await discarded.discard();
    expect(() => discarded.beginCommit()).toThrow('the upload is discarded');
    expect(store.objects.has(discarded.storageKey)).toBe(false);
  });
});
