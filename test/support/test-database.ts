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
 * A database of its own for one test app, on PostgreSQL a fresh one, so parallel test files and
 * concurrent CI runs never meet: the migrator reads the catalog of every schema in its database,
 * and fails when another test drops one under it. The app works in a schema of that database
 * named by search_path, as deployments that share a database do.
 */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') return { url: undefined, env: {}, drop: () => Promise.resolve() };
  const serverUrl = process.env.TEST_DATABASE_URL!;
  const name = `test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (client) => client.query(`create database ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await withClient(url.toString(), (client) => client.query('create schema files'));
  url.searchParams.set('options', '-c search_path=files');
  return {
    url: url.toString(),
    env: { DATABASE_URL: url.toString(), JWT_SECRET: SHARED_JWT_SECRET },
    // force: instances a test killed may have left connections behind
    drop: async () => {
      await withClient(serverUrl, (client) => client.query(`drop database ${name} with (force)`));
    },
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
