import { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Bytes being written under a key whose registry row is not there yet: every instance's
  // sweeper keeps off them while `touched_at` is recent (the writing process is alive).
  await db.schema
    .createTable('pending_uploads')
    .addColumn('storage_key', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('touched_at', 'bigint', (c) => c.notNull())
    .execute();
  // Work that one instance at a time may do (the sweep), held until `expires_at`.
  await db.schema
    .createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}
