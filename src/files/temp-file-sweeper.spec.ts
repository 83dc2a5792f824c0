import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { Logger, type LoggerService } from '@nestjs/common';
import { TempFiles } from '../common/temp-files/temp-files.service.js';
import { AppConfig, loadConfig } from '../config/app-config.js';
import type { Database } from '../database/database.js';
import { FileRegistry } from './file-registry.js';
import { FilesService } from './files.service.js';
import { LocalFileStore } from './storage/local-file-store.js';
import type { StoredFile } from './stored-file.js';
import { TempFileSweeper } from './temp-file-sweeper.js';

/** Older than the default SWEEP_MIN_AGE_SECONDS (an hour): the sweeper may take it. */
const LONG_AGO = new Date(Date.now() - 2 * 3600 * 1000);

const keyOf = (id: string) => `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;

/**
 * The registry's rows as a set of storage keys. `beforeAnswering` runs after a query has read
 * the rows and before it answers: what another request does in that gap.
 */
class InMemoryRegistry extends FileRegistry {
  readonly keys = new Set<string>();
  beforeAnswering: () => Promise<void> = () => Promise.resolve();
  /** Inserts wait for this; an insert happens at once unless a test replaces it. */
  insertsMayLand: Promise<void> = Promise.resolve();

  constructor(config: AppConfig) {
    super(undefined as unknown as Database, config);
  }

  override async insert(file: StoredFile): Promise<void> {
    await this.insertsMayLand;
    this.keys.add(file.storageKey);
  }

  override async existingKeys(keys: string[]): Promise<Set<string>> {
    const named = new Set(keys.filter((key) => this.keys.has(key)));
    await this.beforeAnswering();
    return named;
  }
}

class CollectingLogger implements LoggerService {
  readonly warnings: string[] = [];
  log(): void {}
  error(): void {}
  warn(message: unknown): void {
    this.warnings.push(String(message));
  }
}

describe('TempFileSweeper', () => {
  let storageDir: string;
  let config: AppConfig;
  let store: LocalFileStore;
  let registry: InMemoryRegistry;
  let tempFiles: TempFiles;
  let files: FilesService;
  let sweeper: TempFileSweeper;
  let logger: CollectingLogger;

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'sweeper-spec-'));
    config = loadConfig({ STORAGE_DIR: storageDir, JWT_SECRET: 'x'.repeat(32) }).config;
    store = new LocalFileStore(config);
    registry = new InMemoryRegistry(config);
    tempFiles = new TempFiles(config);
    files = new FilesService(registry, store, tempFiles);
    sweeper = new TempFileSweeper(config, tempFiles, store, registry, files);
    Logger.overrideLogger((logger = new CollectingLogger()));
  });
  afterEach(() => rm(storageDir, { recursive: true, force: true }));

  async function storedBytes(key: string, content = 'bytes'): Promise<string> {
    const path = join(storageDir, 'files', key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    await utimes(path, LONG_AGO, LONG_AGO);
    return path;
  }

  /** Waits for the store to list a key. */
  async function firstStoredKey(): Promise<string> {
    for (;;) {
      for await (const { key } of store.keys()) return key;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    );

  it('removes orphaned bytes past the files it did not name, warning of those once', async () => {
    const orphan = await storedBytes(keyOf(randomUUID()));
    const strays = [
      await storedBytes('.DS_Store'),
      await storedBytes('ab/cd/.abc.tmp'),
      await storedBytes('ab/notes.txt'),
    ];

    expect(await sweeper.sweep()).toEqual({ tempFiles: 0, orphanedFiles: 1 });
    expect(await exists(orphan)).toBe(false);
    for (const stray of strays) expect(await exists(stray)).toBe(true);
    expect(logger.warnings).toEqual([
      expect.stringMatching(/^3 file\(s\) under .* are not stored files and were left alone/),
    ]);

    // And the next sweep still works.
    const next = await storedBytes(keyOf(randomUUID()));
    expect(await sweeper.sweep()).toEqual({ tempFiles: 0, orphanedFiles: 1 });
    expect(await exists(next)).toBe(false);
  });

  it('keeps the bytes of a commit that lands while the sweeper asks the registry', async () => {
    const request = {};
    const temp = await tempFiles.write(request, Readable.from([Buffer.from('bytes')]), 'upload');
    // Old bytes: only the commit in flight stands between them and the sweeper.
    await utimes(temp.path, LONG_AGO, LONG_AGO);

    let letInsertLand!: () => void;
    registry.insertsMayLand = new Promise((resolve) => (letInsertLand = resolve));
    const commit = files.commit(request, { id: randomUUID(), role: 'user' }, temp, {
      filename: 'a.txt',
      declaredType: 'text/plain',
    });
    // The commit has put its bytes and waits to insert its row.
    const key = await firstStoredKey();
    expect(files.isCommitting(key)).toBe(true);

    // The registry has answered "no row" when the commit's row lands and the commit ends.
    registry.beforeAnswering = async () => {
      letInsertLand();
      await commit;
    };
    expect(await sweeper.sweep()).toEqual({ tempFiles: 0, orphanedFiles: 0 });

    const file = await commit;
    expect(registry.keys.has(file.storageKey)).toBe(true);
    expect(await exists(join(storageDir, 'files', file.storageKey))).toBe(true);
  });
});
