import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AuditRepository } from '../audit/audit-repository.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { AppConfig, loadConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { Database } from '../database/database.js';
import { migrateToLatest } from '../database/database.module.js';
import { Leases } from '../database/leases.js';
import {
  createTestDatabase,
  DIALECTS,
  type TestDatabase,
} from '../../test/support/test-database.js';
import { FileLifetimes, type OwnerFileDefaults } from './file-lifetimes.js';
import { FileRegistry, PendingMarkLostError } from './file-registry.js';
import { FilesService } from './files.service.js';
import { ResumableUploadRepository } from './resumable/resumable-upload-repository.js';
import { ResumableUploads } from './resumable/resumable-uploads.service.js';
import { StorageSweeper } from './storage-sweeper.js';
import { LocalFileStore } from './storage/local-file-store.js';
import { fileIdOf, storageKeyOf } from './storage/storage-key.js';
import type { StoredFile } from './stored-file.js';
import { PendingUploads } from './upload/pending-uploads.js';
import { UserQuotas } from '../quotas/user-quotas.js';
import { sql } from 'kysely';

/** Older than the default SWEEP_MIN_AGE_SECONDS (an hour): the sweeper may take it. */
const LONG_AGO = new Date(Date.now() - 2 * 3600 * 1000);

/** Owners whose files live until deleted, unless their uploads say otherwise. */
const noDefaults: OwnerFileDefaults = { defaultFileTtlSeconds: () => Promise.resolve(null) };

describe.each(DIALECTS)('StorageSweeper on %s', (dialect) => {
  let storageDir: string;
  let testDb: TestDatabase;
  let config: AppConfig;
  let db: Database;
  let store: LocalFileStore;
  let registry: FileRegistry;
  let pending: PendingUploads;
  let ownerId: string;

  const sweeperOn = (database: Database) => {
    const audit = new AuditTrail(new AuditRepository(database), config, Metrics.off());
    return new StorageSweeper(
      config,
      store,
      registry,
      pending,
      new ResumableUploads(
        config,
        new ResumableUploadRepository(database),
        store,
        new FilesService(registry, store, pending, new FileLifetimes(config, noDefaults), audit),
        new UserQuotas(database, config),
      ),
      new Leases(database),
      Metrics.off(),
      audit,
    );
  };

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'sweeper-spec-'));
    testDb = await createTestDatabase(dialect);
    config = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'x'.repeat(32),
      AUDIT_ENABLED: 'false',
      ...(testDb.url && { DATABASE_URL: testDb.url }),
    }).config;
    db = Database.connect(config.database);
    await migrateToLatest(db);
    store = new LocalFileStore(config);
    const quotas = new UserQuotas(db, config);
    registry = new FileRegistry(db, quotas, config);
    pending = new PendingUploads(db, quotas);
    ownerId = randomUUID();
    await db
      .insertInto('users')
      .values({
        id: ownerId,
        username: 'owner',
        passwordHash: 'x',
        role: 'user',
        createdAt: 0,
        updatedAt: 0,
      })
      .execute();
  });
  afterEach(async () => {
    pending.onModuleDestroy();
    await db.destroy();
    await testDb.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  /** Bytes under a new key, written `modified` (a long time ago by default). */
  async function storedBytes(modified = LONG_AGO): Promise<string> {
    const key = storageKeyOf(randomUUID());
    await store.write(key, Readable.from([Buffer.from('bytes')]));
    await utimes(join(storageDir, 'files', key), modified, modified);
    return key;
  }

  function fileOf(key: string, expiresAt: Date | null = null): StoredFile {
    return {
      id: fileIdOf(key),
      ownerId,
      filename: 'f',
      contentType: 'text/plain',
      size: 5,
      sha256: 'x'.repeat(64),
      storageKey: key,
      createdAt: new Date(),
      expiresAt,
    };
  }

  /** Registers `key` as an upload does: marked first, then committed. */
  async function register(key: string, expiresAt: Date | null = null): Promise<void> {
    await pending.mark(key, ownerId, 0);
    await registry.insertFromPending(fileOf(key, expiresAt));
  }

  const exists = async (key: string) => (await store.stat(key)) !== undefined;

  it('removes old bytes that nothing claims, and keeps registered, pending and young ones', async () => {
    const orphan = await storedBytes();
    const registered = await storedBytes();
    await register(registered);
    const uploading = await storedBytes();
    await pending.mark(uploading, ownerId, 0);
    const young = await storedBytes(new Date());

    const result = await sweeperOn(db).sweep();

    expect(result).toMatchObject({ swept: true, orphanedFiles: 1 });
    expect(await exists(orphan)).toBe(false);
    expect(await exists(registered)).toBe(true);
    expect(await exists(uploading)).toBe(true);
    expect(await exists(young)).toBe(true);
  });

  it('removes the rows and bytes of expired files, and keeps the rest', async () => {
    const expired = await storedBytes(new Date());
    await register(expired, new Date(Date.now() - 1000));
    const expiring = await storedBytes(new Date());
    await register(expiring, new Date(Date.now() + 3_600_000));
    const forever = await storedBytes(new Date());
    await register(forever);

    expect(await sweeperOn(db).sweep()).toMatchObject({ swept: true, expiredFiles: 1 });
    expect(await exists(expired)).toBe(false);
    const rows = await db.selectFrom('files').select('storageKey').execute();
    expect(rows.map((row) => row.storageKey).sort()).toEqual([expiring, forever].sort());
    expect(await exists(expiring)).toBe(true);
    expect(await exists(forever)).toBe(true);
  });

  it('goes on past a step that fails, and keeps what the others removed', async () => {
    const orphan = await storedBytes();
    const expired = await storedBytes(new Date());
    await register(expired, new Date(Date.now() - 1000));
    // The audit trail's step fails: its table is gone behind the sweeper's back.
    await sql`alter table audit_events rename to audit_events_away`.execute(db);
    try {
      const result = await sweeperOn(db).sweep();
      expect(result).toMatchObject({ swept: true, orphanedFiles: 1, expiredFiles: 1 });
    } finally {
      await sql`alter table audit_events_away rename to audit_events`.execute(db);
    }
    expect(await exists(orphan)).toBe(false);
    expect(await exists(expired)).toBe(false);
  });

  it('takes an upload whose mark went unrenewed past the grace period, and its commit then fails', async () => {
    const abandoned = await storedBytes(new Date());
    await pending.mark(abandoned, ownerId, 0);
    pending.forget(abandoned); // as if its process had died: nobody renews it
    await db.updateTable('pendingUploads').set({ touchedAt: LONG_AGO.getTime() }).execute();

    expect(await sweeperOn(db).sweep()).toMatchObject({ abandonedUploads: 1 });
    expect(await exists(abandoned)).toBe(false);
    await expect(registry.insertFromPending(fileOf(abandoned))).rejects.toBeInstanceOf(
      PendingMarkLostError,
    );
    expect(await registry.find(fileIdOf(abandoned))).toBeUndefined();
  });

  it('discards old staged writes that no upload holds, and keeps a held one', async () => {
    const abandoned = join(storageDir, 'tmp', `${randomUUID()}.part`);
    const leftover = join(storageDir, 'tmp', `upload-${randomUUID()}`); // an older version's
    const heldId = randomUUID();
    const held = join(storageDir, 'tmp', `${heldId}.part`);
    for (const path of [abandoned, leftover, held]) {
      await writeFile(path, 'half an upload');
      await utimes(path, LONG_AGO, LONG_AGO);
    }
    await pending.mark(storageKeyOf(heldId), ownerId, 0);

    const result = await sweeperOn(db).sweep();

    const left: string[] = [];
    for await (const write of store.incompleteWrites()) left.push(write.key);
    expect(left).toEqual([storageKeyOf(heldId)]);
    expect(result.incompleteWrites).toBe(2);
  });

  it('sweeps on one instance at a time', async () => {
    const other = Database.connect(config.database);
    try {
      const otherLeases = new Leases(other);
      expect(await otherLeases.acquire('storage-sweeper', 60_000)).toBe(true);
      await storedBytes();
      expect(await sweeperOn(db).sweep()).toMatchObject({ swept: false, orphanedFiles: 0 });
      await otherLeases.release('storage-sweeper');
      expect(await sweeperOn(db).sweep()).toMatchObject({ swept: true, orphanedFiles: 1 });
    } finally {
      await other.destroy();
    }
  });

  it('never removes the bytes of a file committed while it sweeps', async () => {
    // Old bytes under fresh marks, committed one by one while passes run: each key is pending
    // or registered at every moment, so no pass may take any.
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) {
      const key = await storedBytes();
      await pending.mark(key, ownerId, 0);
      keys.push(key);
    }
    const sweeper = sweeperOn(db);
    const sweeping = (async () => {
      for (let pass = 0; pass < 10; pass++) await sweeper.sweep();
    })();
    for (const key of keys) await registry.insertFromPending(fileOf(key));
    await sweeping;
    await sweeper.sweep();
    for (const key of keys) expect(await exists(key)).toBe(true);
  });
});
