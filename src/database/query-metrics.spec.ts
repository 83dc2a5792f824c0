import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { sql } from 'kysely';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import {
  createTestDatabase,
  DIALECTS,
  type TestDatabase,
} from '../../test/support/test-database.js';
import { loadConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { Database } from './database.js';
import { migrateToLatest } from './database.module.js';
import { queryMetrics } from './query-metrics.js';

describe.each(DIALECTS)('queryMetrics (%s)', (dialect) => {
  let storageDir: string;
  let testDatabase: TestDatabase;
  let db: Database;
  let metrics: Metrics;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'query-metrics-test-'));
    testDatabase = await createTestDatabase(dialect);
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'a-secret-for-tests-a-secret-for-tests',
      ...(testDatabase.url !== undefined && { DATABASE_URL: testDatabase.url }),
    });
    metrics = Metrics.on();
    db = Database.connect(config.database, queryMetrics(metrics));
    await migrateToLatest(db);
  });

  afterEach(async () => {
    await db.destroy();
    await testDatabase.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  /** Observations of `files_db_query_duration_seconds` by `kind/outcome`. */
  async function counts(): Promise<Record<string, number>> {
    const text = (await metrics.exposition()).replace(/^# (TYPE|HELP) .*$/gm, '');
    // Untyped, each series is a family of its own.
    const samples = parsePrometheusTextFormat(text)
      .filter((f) => f.name === 'files_db_query_duration_seconds_count')
      .flatMap((f) => f.metrics);
    return Object.fromEntries(
      samples.map((m) => [`${m.labels?.kind}/${m.labels?.outcome}`, Number(m.value)]),
    );
  }

  it('times each query by its kind and outcome, never by its text', async () => {
    const before = await counts();
    const moved = async (key: string) => ((await counts())[key] ?? 0) - (before[key] ?? 0);

    await db
      .insertInto('leases')
      .values({ name: 'test', holder: 'me', expiresAt: Date.now() })
      .execute();
    await db.selectFrom('leases').selectAll().execute();
    await db.updateTable('leases').set({ holder: 'you' }).execute();
    await db.deleteFrom('leases').execute();
    await sql`select 1`.execute(db);
    // Not `toThrow()`: better-sqlite3's error class comes from the realm of the test file that
    // loaded the native module first, so it is no `Error` of this one's in a whole-suite run.
    await expect(sql`select * from no_such_table`.execute(db)).rejects.toHaveProperty(
      'message',
      expect.stringMatching(/no such table|does not exist/),
    );

    expect(await moved('insert/ok')).toBe(1);
    expect(await moved('select/ok')).toBe(1);
    expect(await moved('update/ok')).toBe(1);
    expect(await moved('delete/ok')).toBe(1);
    expect(await moved('raw/ok')).toBe(1);
    expect(await moved('raw/error')).toBe(1);
    expect(await metrics.exposition()).not.toContain('no_such_table');
  });

  it('is no log at all with metrics off', () => {
    expect(queryMetrics(Metrics.off())).toBeUndefined();
    expect(queryMetrics(undefined)).toBeUndefined();
  });
});
