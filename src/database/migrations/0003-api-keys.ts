import { Kysely } from 'kysely';
import { idType } from './column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', idType(db), (c) => c.primaryKey())
    // A user's keys go with the user.
    .addColumn('owner_id', idType(db), (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (c) => c.notNull())
    // SHA-256 of the key, hex: the key itself is shown once and never stored.
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    // Space-separated, as OAuth writes scopes.
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('api_keys_owner_created_idx')
    .on('api_keys')
    .columns(['owner_id', 'created_at'])
    .execute();
}
