import pg from 'pg';

/**
 * PostgreSQL runs in every e2e suite when TEST_DATABASE_URL is set (CI sets it); then it must
 * answer, or the run fails here rather than skip anything.
 */
export default async function globalSetup(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    console.log(
      '\nDatabases under test: SQLite only. Set TEST_DATABASE_URL=postgres://... to test PostgreSQL too.',
    );
    return;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(`TEST_DATABASE_URL is set, but PostgreSQL does not answer: ${String(error)}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
  console.log('\nDatabases under test: SQLite and PostgreSQL.');
}
