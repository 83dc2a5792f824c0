import { Kysely } from 'kysely';

/**
 * The login limits' counters, shared by every instance on the database (`SlidingWindowLimiter`):
 * one row per limited key, holding the times of its events still in the window.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('login_attempts')
    // The limit's name and the key it counts under (a client address, or address and username).
    .addColumn('key', 'text', (c) => c.primaryKey())
    // Space-separated epoch milliseconds, oldest first: at most the limit's count of them.
    .addColumn('times', 'text', (c) => c.notNull())
    // When the newest of them leaves the window: from then on the row counts nothing.
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('login_attempts_expires_at_idx')
    .on('login_attempts')
    .column('expires_at')
    .execute();
}
