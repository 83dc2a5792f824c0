import { Kysely, PostgresAdapter } from 'kysely';
import { idType } from './column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  const bytes = db.getExecutor().adapter instanceof PostgresAdapter ? 'bytea' : 'blob';
  // A tus upload between its creation and the registry row it becomes (and a while after, so
  // that its client can still learn the file id). Its bytes are in the store under
  // `storage_key`, claimed by this row: no sweeper takes them while it exists.
  await db.schema
    .createTable('resumable_uploads')
    .addColumn('id', idType(db), (c) => c.primaryKey())
    // An account that goes takes its unfinished uploads along; their bytes are then orphans.
    .addColumn('owner_id', idType(db), (c) =>
      c.notNull().references('users.id').onDelete('cascade'),
    )
    .addColumn('storage_key', 'text', (c) => c.notNull().unique())
    .addColumn('length', 'bigint', (c) => c.notNull())
    .addColumn('offset', 'bigint', (c) => c.notNull())
    .addColumn('filename', 'text')
    .addColumn('filetype', 'text')
    // The store's own record of the write so far (S3: the multipart upload, its parts, its tail).
    .addColumn('store_state', 'text', (c) => c.notNull())
    // The SHA-256 of the first `offset` bytes, as a hash state that can go on.
    .addColumn('hash_state', bytes, (c) => c.notNull())
    // The first bytes, for telling the file's type at the end.
    .addColumn('head', bytes, (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    // Set once the registry row is in: the upload is then only a way to learn the file id.
    .addColumn('completed_at', 'bigint')
    // One append at a time, across instances: who holds the upload, and until when.
    .addColumn('locked_by', 'text')
    .addColumn('locked_until', 'bigint')
    .execute();
  await db.schema
    .createIndex('resumable_uploads_expires_idx')
    .on('resumable_uploads')
    .column('expires_at')
    .execute();
}
