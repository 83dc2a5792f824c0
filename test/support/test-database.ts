import { randomBytes } from 'node:crypto';
import pg from 'pg';

export type Dialect = 'sqlite' | 'postgres';

/** Every e2e suite runs on each of these: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export const DIALECTS: Dialect[] = process.env.TEST_DATABASE_URL
  ? ['sqlite', 'postgres']
  : ['sqlite'];

/**
 * The JWT secret of apps on a PostgreSQL test database, which requires one (instances sharing a
 * database must share it); on SQLite the app generates its own.
 */
export const SHARED_JWT_SECRET = 'jwt-secret-shared-by-the-instances-of-a-test';

export interface TestDatabase {
  /** DATABASE_URL for the app; undefined means the default SQLite file in STORAGE_DIR. */
  url: string | undefined;
  /** What an app needs in its environment to use this database. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test app. On PostgreSQL, a fresh schema that the connection's
 * search_path points at, so parallel test files and concurrent CI runs never meet.
 */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') return { url: undefined, env: {}, drop: () => Promise.resolve() };
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const schema = `test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, async (client) => {
    await client.query(`create schema ${schema}`);
  });
  const url = new URL(serverUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    env: { DATABASE_URL: url.toString(), JWT_SECRET: SHARED_JWT_SECRET },
    drop: () =>
      withClient(serverUrl, async (client) => {
        await client.query(`drop schema ${schema} cascade`);
      }),
  };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
