import { Kysely } from 'kysely';
import { idType } from './column-types.js';

export async function up(db: Kysely<unknown>): Promise<void> {
  // A user's own quota, over the configured default: null is the default, -1 no limit at all.
  await db.schema.alterTable('users').addColumn('quota_bytes', 'bigint').execute();
  await db.schema.alterTable('users').addColumn('quota_files', 'bigint').execute();
  // What an upload in progress holds of its owner's quota: one file, and the bytes it announced
  // (0 when it announced none). The row goes when the upload is registered, discarded or swept,
  // and its reservation with it. Rows of an older version have no owner and hold nothing.
  await db.schema.alterTable('pending_uploads').addColumn('owner_id', idType(db)).execute();
  await db.schema
    .alterTable('pending_uploads')
    .addColumn('reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('pending_uploads_owner_idx')
    .on('pending_uploads')
    .column('owner_id')
    .execute();
  await db.schema
    .createIndex('resumable_uploads_owner_idx')
    .on('resumable_uploads')
    .column('owner_id')
    .execute();
}
