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
    drop: () => dropDatabase(serverUrl, name),
  };
}

/**
 * Drops database `name` once nobody is connected to it: the backends of an instance a test
 * killed take a moment to go. Not `with (force)`: that would also cut a connection of this
 * process that a test left open, and its pool would fail the test run with the error. A database
 * still in use after a while is left behind, with a warning.
 */
async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await withClient(serverUrl, (client) => client.query(`drop database ${name}`));
      return;
    } catch (error) {
      // 55006 object_in_use: "database is being accessed by other users"
      if ((error as { code?: string }).code !== '55006') throw error;
      if (attempt === 50) {
        console.warn(`test database ${name} is still in use: left behind`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
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
