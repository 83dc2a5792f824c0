import { createHash, randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HEAD_BYTES } from './byte-meter.js';
import {
  FileStore,
  StoredBytesMissingError,
  type ResumableWrite,
  type StoredBytes,
} from './file-store.js';
import { storageKeyOf } from './storage-key.js';

/** One store under test, fresh for each test: nothing another test wrote is in it. */
export interface ContractSubject {
  store: FileStore;
  /** Removes what the test left and releases the store. */
  cleanup(): Promise<void>;
  /** Keys per listing request, when the store lists in pages: the listing test writes more. */
  listingPageSize?: number;
  /** Bytes above which a write is split (S3's part size): the large write spans several. */
  partSize?: number;
  /** Puts `bytes` under `name`, a name the service never gives, as another program would. */
  addStray(name: string, bytes: Buffer): Promise<void>;
  /** Begins a write of `key` and leaves it unfinished, as a process that died mid-write would. */
  abandonWrite(store: FileStore, key: string): Promise<void>;
}

const MiB = 2 ** 20;

/**
 * What every FileStore must do, run against each of them by its own spec (a real disk, a real
 * S3 server): callers can then swap one store for another without reading either.
 */
export function describeFileStoreContract(
  name: string,
  makeStore: () => Promise<ContractSubject>,
): void {
  describe(`${name}: the FileStore contract`, () => {
    let subject: ContractSubject;
    let store: FileStore;
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    const newKey = () => storageKeyOf(randomUUID());

    it('reports size, SHA-256 and head of a write, and reads the bytes back whole', async () => {
      const key = newKey();
      const bytes = randomBytes(3 * HEAD_BYTES + 7);
      const written = await store.write(key, chunked(bytes));
      expect(written.size).toBe(bytes.length);
      expect(written.sha256).toBe(sha256(bytes));
      expect(written.head.equals(bytes.subarray(0, HEAD_BYTES))).toBe(true);
      const read = await readAll(await store.read(key, { start: 0, end: bytes.length - 1 }));
      expect(read.equals(bytes)).toBe(true);
      // Without a range: all of it.
      expect((await readAll(await store.read(key))).equals(bytes)).toBe(true);
    });

    it('reads ranges: the start, the middle, the last byte, a single byte', async () => {
      const key = newKey();
      const bytes = randomBytes(100_000);
      await store.write(key, chunked(bytes));
      for (const [start, end] of [
        [0, 9],
        [40_000, 59_999],
        [99_999, 99_999],
        [12_345, 12_345],
        [1, 99_999],
      ]) {
        const read = await readAll(await store.read(key, { start, end }));
        expect(read.equals(bytes.subarray(start, end + 1))).toBe(true);
      }
    });

    it('stores an empty file, and reads its empty range', async () => {
      const key = newKey();
      const written = await store.write(key, Readable.from([]));
      expect(written).toEqual({ size: 0, sha256: sha256(Buffer.alloc(0)), head: Buffer.alloc(0) });
      expect(await store.stat(key)).toMatchObject({ key, size: 0 });
      const read = await readAll(await store.read(key, { start: 0, end: -1 }));
      expect(read.length).toBe(0);
      expect((await readAll(await store.read(key))).length).toBe(0);
    });

    it('answers StoredBytesMissingError for a key it does not hold, and stat() undefined', async () => {
      const key = newKey();
      await expect(store.read(key, { start: 0, end: 9 })).rejects.toBeInstanceOf(
        StoredBytesMissingError,
      );
      expect(await store.stat(key)).toBeUndefined();
    });

    it('stats a key: its size and when it was written', async () => {
      const key = newKey();
      const before = Date.now();
      await store.write(key, chunked(randomBytes(1234)));
      const stat = await store.stat(key);
      expect(stat).toMatchObject({ key, size: 1234 });
      // Second precision (S3's Last-Modified), and the store's clock may differ a little.
      expect(Math.abs(stat!.modifiedAt.getTime() - before)).toBeLessThan(60_000);
    });

    it('removes a key, and removing it again is no error', async () => {
      const key = newKey();
      await store.write(key, chunked(randomBytes(10)));
      await store.remove(key);
      expect(await store.stat(key)).toBeUndefined();
      await expect(store.read(key, { start: 0, end: 9 })).rejects.toBeInstanceOf(
        StoredBytesMissingError,
      );
      await store.remove(key);
      await store.remove(newKey());
    });

    describe('a write whose source fails leaves nothing of its key', () => {
      // Past two parts of a store that splits writes: a multipart upload is under way.
      const failAt = () => 2 * (subject.partSize ?? 4 * MiB) + MiB;

      it.each([
        ['errors', 'mid-way', () => failAt()],
        ['is destroyed', 'mid-way', () => failAt()],
        ['errors', 'within the first part', () => 100_000],
        ['is destroyed', 'within the first part', () => 100_000],
      ])('a source that %s %s', async (how, _where, bytesBeforeFailure) => {
        const key = newKey();
        const source = generated(bytesBeforeFailure() + 10 * MiB, {
          failAfter: bytesBeforeFailure(),
          failure: how === 'errors' ? new Error('the client went away') : undefined,
        });
        const error: unknown = await store.write(key, source.stream).then(
          () => undefined,
          (e: unknown) => e,
        );
        // Node's own errors (a premature close) come from another realm than Jest's `Error`.
        expect(types.isNativeError(error)).toBe(true);
        if (how === 'errors') expect(error).toBe(source.failure);
        expect(source.stream.destroyed).toBe(true);
        await expectNothingOf(key);
      });
    });

    async function expectNothingOf(key: string): Promise<void> {
      expect(await store.stat(key)).toBeUndefined();
      expect((await collect(store.list())).map((o) => o.key)).not.toContain(key);
      expect((await collect(store.incompleteWrites())).map((w) => w.key)).not.toContain(key);
    }

    it('lists every key exactly once, page after page', async () => {
      const count = 2.5 * (subject.listingPageSize ?? 10);
      const keys = Array.from({ length: count }, newKey);
      const sizes = new Map(keys.map((key, i) => [key, i + 1]));
      // A few at a time: fast, without a burst of connections.
      for (let i = 0; i < keys.length; i += 5) {
        await Promise.all(
          keys
            .slice(i, i + 5)
            .map((key) => store.write(key, chunked(randomBytes(sizes.get(key)!)))),
        );
      }
      const listed = await collect(store.list());
      expect(listed.map((o) => o.key).sort()).toEqual([...keys].sort());
      for (const object of listed) {
        expect(object.size).toBe(sizes.get(object.key));
        // A date (of fs.stat's realm or this one: not `toBeInstanceOf(Date)` under Jest).
        expect(object.modifiedAt.getTime()).toBeGreaterThan(0);
      }
    });

    it('lists nothing but storage keys', async () => {
      const key = newKey();
      await store.write(key, chunked(randomBytes(10)));
      await subject.addStray('notes.txt', Buffer.from('not ours'));
      await subject.addStray('ab/cd/not-a-uuid', Buffer.from('not ours either'));
      expect((await collect(store.list())).map((o) => o.key)).toEqual([key]);
    });

    it('writes three whole parts and one byte more, and reads across their seams', async () => {
      const partSize = subject.partSize ?? 5 * MiB;
      const key = newKey();
      const bytes = randomBytes(3 * partSize + 1);
      const written = await store.write(key, chunked(bytes));
      expect(written.size).toBe(bytes.length);
      expect(written.sha256).toBe(sha256(bytes));
      expect(written.head.equals(bytes.subarray(0, HEAD_BYTES))).toBe(true);
      expect(await store.stat(key)).toMatchObject({ key, size: bytes.length });
      for (const [start, end] of [
        [0, bytes.length - 1],
        [partSize - 10, partSize + 10],
        [3 * partSize, 3 * partSize],
      ]) {
        const read = await readAll(await store.read(key, { start, end }));
        expect(read.equals(bytes.subarray(start, end + 1))).toBe(true);
      }
    });

    it('writes a file larger than its parts, holding a bounded amount of memory', async () => {
      const partSize = subject.partSize ?? 5 * MiB;
      const size = Math.max(3 * partSize + 1, 160 * MiB);
      const key = newKey();
      const source = generated(size);
      // What is live, not what awaits collection: a collection before each look. Without it the
      // figures grow with whatever garbage V8 lets pile up, tens of MiB that vary run to run.
      const collectGarbage = garbageCollector();
      collectGarbage();
      const baseline = process.memoryUsage();
      const peak = { rss: baseline.rss, arrayBuffers: baseline.arrayBuffers };
      // Every half second: a store that held the file would grow steadily, which this sees; a
      // full collection every 100 ms took most of the time, past 4 minutes on Node 24 under CI.
      const sampler = setInterval(() => {
        collectGarbage();
        const now = process.memoryUsage();
        peak.rss = Math.max(peak.rss, now.rss);
        peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
      }, 500);
      let written;
      try {
        written = await store.write(key, source.stream);
      } finally {
        clearInterval(sampler);
      }
      expect(written.size).toBe(size);
      expect(written.sha256).toBe(source.sha256());
      // A store that held the file would grow by its whole size, 160 MiB. S3's uploads were seen
      // at 20-45 MiB with 5 MiB parts two at a time: the parts in flight, the next one gathered
      // from chunks and copied into one buffer, the SDK's and the sockets' share.
      expect((peak.arrayBuffers - baseline.arrayBuffers) / MiB).toBeLessThan(64);
      expect((peak.rss - baseline.rss) / MiB).toBeLessThan(80);
      expect(await store.stat(key)).toMatchObject({ key, size });
      const hash = createHash('sha256');
      for await (const chunk of chunksOf(await store.read(key, { start: 0, end: size - 1 }))) {
        hash.update(chunk);
      }
      expect(hash.digest('hex')).toBe(source.sha256());
      // 160 MiB fsynced, or sent to S3, with a collection every 500 ms: slow on a busy machine.
    }, 240_000);

    describe('a resumable write', () => {
      /** Appends `bytes` at `write`, as the chunks of a request; what it accepted, and after. */
      async function append(key: string, write: ResumableWrite, bytes: Buffer) {
        const accepted: Buffer[] = [];
        const appended = await store.appendResumable(
          key,
          write,
          chunked(bytes) as AsyncIterable<Buffer>,
          (chunk) => accepted.push(Buffer.from(chunk)),
        );
        return { ...appended, accepted: Buffer.concat(accepted) };
      }

      it('goes on over appends of any size, across part seams, and completes to the whole', async () => {
        const key = newKey();
        const part = subject.partSize ?? MiB;
        const bytes = randomBytes(2 * part + 4321);
        // A small first append (a tail of its own), one past a seam, the rest.
        const cuts = [1000, part + 77, bytes.length];
        let write = await store.startResumable(key, bytes.length);
        let from = 0;
        for (const to of cuts) {
          const appended = await append(key, write, bytes.subarray(from, to));
          expect(appended.accepted.equals(bytes.subarray(from, to))).toBe(true);
          expect(appended.write.offset).toBe(to);
          await appended.release();
          write = appended.write;
          from = to;
        }
        expect(await store.stat(key)).toBeUndefined(); // nothing under the key until completed
        await store.completeResumable(key, write);
        await store.completeResumable(key, write); // again: nothing
        expect((await readAll(await store.read(key))).equals(bytes)).toBe(true);
        expect((await collect(store.incompleteWrites())).map((w) => w.key)).not.toContain(key);
      });

      it('takes an append of many parts (more than go up at once), in order', async () => {
        const key = newKey();
        const part = subject.partSize ?? MiB;
        const size = 7 * part + 999;
        const source = generated(size);
        const start = await store.startResumable(key, size);
        const appended = await store.appendResumable(
          key,
          start,
          source.stream as AsyncIterable<Buffer>,
          () => undefined,
        );
        expect(appended.write.offset).toBe(size);
        await store.completeResumable(key, appended.write);
        expect(sha256(await readAll(await store.read(key)))).toBe(source.sha256());
      });

      it('goes on from the saved standing when an append was never saved', async () => {
        const key = newKey();
        const bytes = randomBytes(3000);
        const start = await store.startResumable(key, bytes.length);
        const saved = await append(key, start, bytes.subarray(0, 1000));
        // An append whose standing is dropped (a checksum that did not match): other bytes.
        await append(key, saved.write, randomBytes(1500));
        const again = await append(key, saved.write, bytes.subarray(1000));
        await store.completeResumable(key, again.write);
        expect((await readAll(await store.read(key))).equals(bytes)).toBe(true);
        // Nor does the dropped append leave anything behind.
        expect((await collect(store.incompleteWrites())).map((w) => w.key)).not.toContain(key);
      });

      it('is listed while unfinished, and aborting it leaves nothing', async () => {
        const key = newKey();
        const start = await store.startResumable(key, 5000);
        const appended = await append(key, start, randomBytes(1234));
        expect((await collect(store.incompleteWrites())).map((w) => w.key)).toContain(key);
        await store.abortResumable(key, appended.write);
        await expectNothingOf(key);
      });
    });

    it('lists a write that was begun and abandoned, and discards it', async () => {
      const key = newKey();
      const before = Date.now();
      await subject.abandonWrite(store, key);
      const incomplete = (await collect(store.incompleteWrites())).filter((w) => w.key === key);
      expect(incomplete).toHaveLength(1);
      expect(Math.abs(incomplete[0].startedAt.getTime() - before)).toBeLessThan(60_000);
      await incomplete[0].discard();
      await expectNothingOf(key);
    });
  });
}

/** `bytes` as a stream of 16 KiB chunks, as a socket would bring them. */
function chunked(bytes: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 16 * 1024) chunks.push(bytes.subarray(i, i + 16 * 1024));
  return Readable.from(chunks);
}

/**
 * `size` pseudo-random bytes made as they are read, 256 KiB at a time, never all at once; with
 * `failAfter`, the stream is destroyed once that many have been read (with `failure`, if given).
 */
function generated(size: number, options: { failAfter?: number; failure?: Error } = {}) {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (options.failAfter !== undefined && produced >= options.failAfter) {
        this.destroy(options.failure);
        return;
      }
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(256 * 1024, size - produced)));
      hash.update(chunk);
      produced += chunk.length;
      this.push(chunk);
      if (produced === size) this.push(null);
    },
  });
  let digest: string | undefined;
  const sha256 = () => (digest ??= hash.digest('hex'));
  return { stream, failure: options.failure, sha256 };
}

/** What a read gave, as its chunks: bytes in memory are one chunk. */
async function* chunksOf(bytes: StoredBytes): AsyncIterable<Buffer> {
  if (Buffer.isBuffer(bytes)) yield bytes;
  else for await (const chunk of bytes) yield chunk as Buffer;
}

export async function readAll(bytes: StoredBytes): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of chunksOf(bytes)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * V8's full garbage collection, as `--expose-gc` gives it, without that flag on the command line
 * (Jest starts the workers): the flag still takes effect for a context made after it is set.
 */
function garbageCollector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
