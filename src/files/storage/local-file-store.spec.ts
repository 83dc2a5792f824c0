import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../config/app-config.js';
import { describeFileStoreContract, readAll } from './file-store.contract.js';
import { LocalFileStore } from './local-file-store.js';
import { fileIdOf, storageKeyOf } from './storage-key.js';

describeFileStoreContract('LocalFileStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'local-file-store-'));
  const { config } = loadConfig({ STORAGE_DIR: dir, JWT_SECRET: 'x'.repeat(32) });
  const files = join(config.storageDir, 'files');
  return {
    store: new LocalFileStore(config),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    addStray: async (name, bytes) => {
      await mkdir(dirname(join(files, name)), { recursive: true });
      await writeFile(join(files, name), bytes);
    },
    // What a process that died mid-write leaves: a staged file never moved into place.
    abandonWrite: async (_store, key) => {
      await writeFile(join(config.storageDir, 'tmp', `${fileIdOf(key)}.part`), randomBytes(1000));
    },
  };
});

describe('LocalFileStore small-file cache', () => {
  it('reads no more small files into memory at once than a quarter of SMALL_FILE_CACHE_BYTES', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-file-store-'));
    try {
      // Room for eight files of 4 KiB in the cache, for two on their way into it.
      const { config } = loadConfig({
        STORAGE_DIR: dir,
        JWT_SECRET: 'x'.repeat(32),
        SMALL_FILE_CACHE_BYTES: String(8 * 4096),
        SMALL_FILE_MAX_BYTES: '4096',
      });
      const store = new LocalFileStore(config);
      const files = Array.from({ length: 8 }, () => randomBytes(4096));
      const keys = await Promise.all(
        files.map(async (bytes) => {
          const key = storageKeyOf(randomUUID());
          await store.write(key, Readable.from([bytes]));
          return key;
        }),
      );
      // Eight misses at once: those past the budget stream from disk and are not kept.
      const read = await Promise.all(keys.map(async (key) => readAll(await store.read(key))));
      expect(read).toEqual(files);
      await rm(join(config.storageDir, 'files'), { recursive: true });
      const kept = await Promise.all(
        keys.map((key) =>
          store.read(key).then(
            () => true,
            () => false,
          ),
        ),
      );
      expect(kept.filter(Boolean).length).toBeGreaterThan(0);
      expect(kept.filter(Boolean).length).toBeLessThan(keys.length);
      // One at a time, each fits: all of them are kept.
      await mkdir(join(config.storageDir, 'files'));
      const again = new LocalFileStore(config);
      for (const [i, key] of keys.entries()) {
        await again.write(key, Readable.from([files[i]]));
        await readAll(await again.read(key));
      }
      await rm(join(config.storageDir, 'files'), { recursive: true });
      for (const [i, key] of keys.entries()) {
        expect(await readAll(await again.read(key))).toEqual(files[i]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
