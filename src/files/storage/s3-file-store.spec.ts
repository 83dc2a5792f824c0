import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import type { LoggerService } from '@nestjs/common';
import { TestBucket } from '../../../test/support/s3.js';
import { collect, describeFileStoreContract, sha256 } from './file-store.contract.js';
import { StoredBytesMissingError } from './file-store.js';
import { S3FileStore } from './s3-file-store.js';
import { storageKeyOf } from './storage-key.js';

/** Keys per listing page here: the contract's listing test then takes three pages. */
const PAGE_SIZE = 10;

describeFileStoreContract('S3FileStore on Ceph RGW', () => {
  const bucket = new TestBucket();
  const store = new S3FileStore(bucket.config, new RecordingLogger(), { pageSize: PAGE_SIZE });
  return Promise.resolve({
    store,
    listingPageSize: PAGE_SIZE,
    partSize: bucket.config.partSizeBytes,
    cleanup: async () => {
      store.onModuleDestroy();
      await bucket.cleanup();
    },
    addStray: (name, bytes) => bucket.putObject(name, bytes),
    // What a process that died mid-upload leaves: a multipart upload never completed or aborted.
    abandonWrite: async (_store, key) => {
      await bucket.client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket.config.bucket,
          Key: bucket.config.prefix + key,
        }),
      );
    },
  });
});

describe('S3FileStore', () => {
  let bucket: TestBucket;
  let logger: RecordingLogger;
  let store: S3FileStore;
  const stores: S3FileStore[] = [];
  const buckets: TestBucket[] = [];
  function newStore(options?: ConstructorParameters<typeof S3FileStore>[2]): S3FileStore {
    const made = new S3FileStore(bucket.config, logger, options);
    stores.push(made);
    return made;
  }
  function newBucket(): TestBucket {
    const made = new TestBucket();
    buckets.push(made);
    return made;
  }
  beforeEach(() => {
    logger = new RecordingLogger();
    bucket = newBucket();
    store = newStore({ pageSize: PAGE_SIZE });
  });
  afterEach(async () => {
    for (const made of stores.splice(0)) made.onModuleDestroy();
    await Promise.all(buckets.splice(0).map((made) => made.cleanup()));
  });

  it('keeps its keys under the prefix: two stores on one bucket never meet', async () => {
    const other = new S3FileStore(newBucket().config, logger);
    stores.push(other);
    const key = storageKeyOf(randomUUID());
    await store.write(key, Readable.from([Buffer.from('mine')]));
    await other.write(key, Readable.from([Buffer.from('theirs')]));
    expect(await bucket.objectKeys()).toEqual([key]);
    expect(await text(await store.read(key, { start: 0, end: 3 }))).toBe('mine');
    await other.remove(key);
    expect(await text(await store.read(key, { start: 0, end: 3 }))).toBe('mine');
    expect((await collect(other.list())).length).toBe(0);
    expect((await collect(store.list())).map((o) => o.key)).toEqual([key]);
  });

  it('leaves no object and no multipart upload of a write whose source failed', async () => {
    const key = storageKeyOf(randomUUID());
    // Three parts in, then the client goes away.
    const source = failingAfter(3 * bucket.config.partSizeBytes + 1, new Error('gone'));
    await expect(store.write(key, source)).rejects.toThrow('gone');
    expect(await bucket.objectKeys()).toEqual([]);
    expect(await bucket.multipartUploads()).toEqual([]);
  });

  it('fails a write the store refuses, leaving nothing, and destroys the source', async () => {
    const missing = new S3FileStore({ ...bucket.config, bucket: 'no-such-bucket-here' }, logger);
    stores.push(missing);
    const source = failingAfter(64 * 2 ** 20, new Error('never reached'));
    await expect(missing.write(storageKeyOf(randomUUID()), source)).rejects.toMatchObject({
      name: 'NoSuchBucket',
    });
    expect(source.destroyed).toBe(true);
  });

  it('frees the connection of a read destroyed mid-way', async () => {
    // Two connections only: a destroyed read that kept its socket would stall every later one.
    const narrow = newStore({ maxSockets: 2 });
    const key = storageKeyOf(randomUUID());
    const bytes = randomBytes(8 * 2 ** 20);
    await narrow.write(key, Readable.from([bytes]));
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const stream = await narrow.read(key, { start: 0, end: bytes.length - 1 });
        await new Promise<void>((resolve, reject) => {
          stream.once('data', () => stream.destroy());
          stream.once('close', resolve).once('end', () => reject(new Error('read to the end')));
        });
      }),
    );
    for (let i = 0; i < 3; i++) {
      const read = await narrow.read(key, { start: 0, end: bytes.length - 1 });
      expect(sha256(Buffer.concat(await collect(read)))).toBe(sha256(bytes));
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reads an empty range of a missing key as missing, without asking for bytes', async () => {
    await expect(
      store.read(storageKeyOf(randomUUID()), { start: 0, end: -1 }),
    ).rejects.toBeInstanceOf(StoredBytesMissingError);
  });

  it('lets failures other than a missing key through as they are', async () => {
    const missing = new S3FileStore({ ...bucket.config, bucket: 'no-such-bucket-here' }, logger);
    stores.push(missing);
    const error: unknown = await missing
      .read(storageKeyOf(randomUUID()), { start: 0, end: 0 })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(StoredBytesMissingError);
    expect(error).toMatchObject({ name: 'NoSuchBucket' });
    await expect(missing.check()).rejects.toBeInstanceOf(Error);
    await expect(store.check()).resolves.toBeUndefined();
  });

  it('hands out a presigned URL that fetches the bytes with the given headers', async () => {
    const key = storageKeyOf(randomUUID());
    const bytes = randomBytes(70_000);
    await store.write(key, Readable.from([bytes]));
    const disposition = `attachment; filename="resume.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`;
    const url = await store.presignedUrl(key, {
      expiresInSeconds: 60,
      contentType: 'application/pdf',
      contentDisposition: disposition,
    });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/pdf');
    expect(response.headers.get('content-disposition')).toBe(disposition);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);

    const short = await store.presignedUrl(key, {
      expiresInSeconds: 1,
      contentType: 'application/pdf',
      contentDisposition: disposition,
    });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await fetch(short)).status).toBe(403);
  });

  it('warns once per listing of the objects that are not stored files', async () => {
    const key = storageKeyOf(randomUUID());
    await store.write(key, Readable.from([Buffer.from('x')]));
    // More strays than a page: still one warning, naming a few of them.
    for (let i = 0; i < PAGE_SIZE + 2; i++) await bucket.putObject(`stray-${i}`, Buffer.from('x'));
    expect((await collect(store.list())).map((o) => o.key)).toEqual([key]);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(/^12 object\(s\) under .* \(stray-0, .*, …\)$/);
  });

  it('lists incomplete writes page after page', async () => {
    const keys = Array.from({ length: PAGE_SIZE + 3 }, () => storageKeyOf(randomUUID()));
    for (const key of keys) {
      await bucket.client.send(
        new CreateMultipartUploadCommand({
          Bucket: bucket.config.bucket,
          Key: bucket.config.prefix + key,
        }),
      );
    }
    const incomplete = await collect(store.incompleteWrites());
    expect(incomplete.map((w) => w.key).sort()).toEqual([...keys].sort());
    await Promise.all(incomplete.map((w) => w.discard()));
    expect(await bucket.multipartUploads()).toEqual([]);
  });
});

/** Keeps what the store logs, to check its warnings. */
class RecordingLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

/** Random bytes, 64 KiB at a time, then `error` once `size` of them were read. */
function failingAfter(size: number, error: Error): Readable {
  let produced = 0;
  return new Readable({
    read() {
      if (produced >= size) return this.destroy(error);
      produced += 64 * 1024;
      this.push(randomBytes(64 * 1024));
    },
  });
}

async function text(stream: Readable): Promise<string> {
  return Buffer.concat(await collect(stream)).toString();
}
