import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import {
  createTestDatabase,
  DIALECTS,
  type TestDatabase,
} from '../../test/support/test-database.js';
import { loadConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';
import { migrateToLatest } from '../database/database.module.js';
import {
  PRUNE_INTERVAL_MS,
  type Recording,
  type SlidingWindow,
  SlidingWindowLimiter,
} from './sliding-window-limiter.js';

function retryAfter(recording: Recording): number {
  return 'refused' in recording ? recording.retryAfterSeconds : 0;
}

describe.each(DIALECTS)('SlidingWindowLimiter (%s)', (dialect) => {
  let storageDir: string;
  let testDatabase: TestDatabase;
  let connections: Database[];
  let db: Database;
  let now: number;
  const clock = () => now;

  /** Another connection to the same database, as a second instance of the service has. */
  function connect(): Database {
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'a-secret-for-tests-a-secret-for-tests',
      ...(testDatabase.url !== undefined && { DATABASE_URL: testDatabase.url }),
    });
    const connection = Database.connect(config.database);
    connections.push(connection);
    return connection;
  }

  /** Records one event for `key` against `window`. */
  function record(limiter: SlidingWindowLimiter, key: string, window: SlidingWindow) {
    return limiter.record([{ window, key }]);
  }

  const window = (limit: number, windowMs: number): SlidingWindow => ({
    name: 'test',
    limit,
    windowMs,
  });

  // The migrations log what they apply.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'limiter-test-'));
    testDatabase = await createTestDatabase(dialect);
    connections = [];
    db = connect();
    await migrateToLatest(db);
    now = Date.parse('2026-11-22T10:00:00Z');
  });

  afterEach(async () => {
    for (const connection of connections) await connection.destroy();
    await testDatabase.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  it('lets a key through until it reaches the limit within the window; a refusal is not counted', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const perMinute = window(3, 60_000);
    for (let i = 0; i < 3; i++) expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(0);
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(60);
    expect(retryAfter(await record(limiter, 'b', perMinute))).toBe(0);
    now += 30_000;
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(30);
    // Had the refusals counted, the key would wait again now.
    now += 30_000;
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(0);
  });

  it('frees the key once the oldest event leaves the window, not before', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const quarterHour = window(2, 15 * 60_000);
    await record(limiter, 'a', quarterHour);
    now += 5 * 60_000;
    await record(limiter, 'a', quarterHour);
    expect(retryAfter(await record(limiter, 'a', quarterHour))).toBe(10 * 60);
    now += 10 * 60_000 - 1000;
    expect(retryAfter(await record(limiter, 'a', quarterHour))).toBe(1);
    now += 1000;
    // The second event is still in the window: one more is allowed, then the key waits again.
    expect(retryAfter(await record(limiter, 'a', quarterHour))).toBe(0);
    expect(retryAfter(await record(limiter, 'a', quarterHour))).toBe(5 * 60);
  });

  it('takes back a recorded event, freeing its place at once', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const perMinute = window(2, 60_000);
    await record(limiter, 'a', perMinute);
    now += 10_000;
    const second = await record(limiter, 'a', perMinute);
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(50);
    if (!('events' in second)) throw new Error('the second event was refused');
    await limiter.takeBack(second.events[0]);
    // Only that one event went: the first still counts, so one more fills the key again.
    now += 10_000;
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(0);
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(40);
  });

  it('takes back the event it is given, not another of the key', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const perMinute = window(2, 60_000);
    const first = await record(limiter, 'a', perMinute);
    now += 20_000;
    await record(limiter, 'a', perMinute);
    if (!('events' in first)) throw new Error('the first event was refused');
    await limiter.takeBack(first.events[0]);
    now += 20_000;
    await record(limiter, 'a', perMinute);
    // The oldest event left is 20 s old, so the key waits 40 s; had the other gone, 20 s.
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(40);
  });

  it('ignores taking back an event that has left the window', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const perMinute = window(2, 60_000);
    const old = await record(limiter, 'a', perMinute);
    if (!('events' in old)) throw new Error('the event was refused');
    now += 60_000;
    await record(limiter, 'a', perMinute);
    await limiter.takeBack(old.events[0]);
    await limiter.takeBack({ rowKey: 'test b', time: old.events[0].time });
    await record(limiter, 'a', perMinute);
    expect(retryAfter(await record(limiter, 'a', perMinute))).toBe(60);
  });

  it('records under every key or under none, and names the first full one', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const wide = { name: 'wide', limit: 5, windowMs: 60_000 };
    const narrow = { name: 'narrow', limit: 1, windowMs: 60_000 };
    await limiter.record([{ window: narrow, key: 'x' }]);
    const refused = await limiter.record([
      { window: wide, key: 'x' },
      { window: narrow, key: 'x' },
    ]);
    expect(refused).toEqual({ refused: { window: narrow, key: 'x' }, retryAfterSeconds: 60 });
    // The wide key was not counted for the refused event: five more fit.
    for (let i = 0; i < 5; i++) expect(retryAfter(await record(limiter, 'x', wide))).toBe(0);
    expect(retryAfter(await record(limiter, 'x', wide))).toBe(60);
  });

  it('shares the counts between two instances on one database', async () => {
    const first = new SlidingWindowLimiter(db, clock);
    const second = new SlidingWindowLimiter(connect(), clock);
    const perMinute = window(4, 60_000);
    await record(first, 'a', perMinute);
    await record(second, 'a', perMinute);
    await record(first, 'a', perMinute);
    const last = await record(second, 'a', perMinute);
    expect(retryAfter(await record(first, 'a', perMinute))).toBe(60);
    expect(retryAfter(await record(second, 'a', perMinute))).toBe(60);
    if (!('events' in last)) throw new Error('the last event was refused');
    await first.takeBack(last.events[0]);
    expect(retryAfter(await record(second, 'a', perMinute))).toBe(0);
  });

  it('never lets concurrent events from two instances past the limit', async () => {
    // better-sqlite3 waits for a lock synchronously, so two connections of one process cannot
    // take turns: on SQLite both instances share the connection, whose transactions run one at
    // a time; on PostgreSQL each has its own pool, and the row lock does the ordering.
    const other = dialect === 'postgres' ? connect() : db;
    const limiters = [new SlidingWindowLimiter(db, clock), new SlidingWindowLimiter(other, clock)];
    const perMinute = window(10, 60_000);
    const recordings = await Promise.all(
      Array.from({ length: 40 }, (_, i) => record(limiters[i % 2], 'a', perMinute)),
    );
    expect(recordings.filter((recording) => 'events' in recording)).toHaveLength(10);
    expect(recordings.filter((recording) => 'refused' in recording)).toHaveLength(30);
    const row = await db
      .selectFrom('loginAttempts')
      .select('times')
      .where('key', '=', 'test a')
      .executeTakeFirstOrThrow();
    expect(row.times.split(' ')).toHaveLength(10);
  });

  it('prunes the rows whose events have all left their window, at most once an interval', async () => {
    const limiter = new SlidingWindowLimiter(db, clock);
    const keys = async () =>
      (await db.selectFrom('loginAttempts').select('key').orderBy('key').execute()).map(
        (row) => row.key,
      );
    await record(limiter, 'a', window(5, 10_000));
    await record(limiter, 'b', window(5, 120_000));
    now += 10_000;
    expect(await limiter.prune()).toBe(1);
    expect(await keys()).toEqual(['test b']);

    // `record` pruned on its first call; the next time is PRUNE_INTERVAL_MS after that.
    now += 120_000;
    await record(limiter, 'c', window(5, 1000));
    expect(await keys()).toEqual(['test c']);
    now += PRUNE_INTERVAL_MS - 1;
    await record(limiter, 'd', window(5, 1000));
    expect(await keys()).toEqual(['test c', 'test d']);
    now += 1;
    await record(limiter, 'e', window(5, 1000));
    // c's window has passed, d's not yet.
    expect(await keys()).toEqual(['test d', 'test e']);
  });
});
