import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../config/app-config.js';
import { describeFileStoreContract } from './file-store.contract.js';
import { LocalFileStore } from './local-file-store.js';
import { fileIdOf } from './storage-key.js';

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
