import { Kysely } from 'kysely';
import { idType } from './column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('files')
    .addColumn('id', idType(db), (c) => c.primaryKey())
    // A user who still owns files cannot be deleted (409) unless their files go first. The default
    // NO ACTION refuses it like RESTRICT, and SQLite then reports a foreign-key error (for RESTRICT,
    // a trigger error).
    .addColumn('owner_id', idType(db), (c) => c.notNull().references('users.id'))
    .addColumn('filename', 'text', (c) => c.notNull())
    .addColumn('content_type', 'text', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  // Keyset pagination, newest first: a user's own files, and every file for an admin.
  await db.schema
    .createIndex('files_owner_created_idx')
    .on('files')
    .columns(['owner_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('files_created_idx')
    .on('files')
    .columns(['created_at desc', 'id desc'])
    .execute();
}
