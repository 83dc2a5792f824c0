import { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // When a file stops existing (epoch ms); null: it lives until deleted. Past it, the registry
  // no longer finds the file and the sweeper removes its row and bytes.
  await db.schema.alterTable('files').addColumn('expires_at', 'bigint').execute();
  // The sweeper's query: the files whose time has come, oldest expiry first.
  await db.schema.createIndex('files_expires_idx').on('files').column('expires_at').execute();
  // The lifetime a user's files get when their upload names none; null: they live until deleted.
  await db.schema.alterTable('users').addColumn('default_file_ttl_seconds', 'bigint').execute();
  // The lifetime a tus upload asked for (Upload-Metadata `expiresIn`), counted from its
  // completion; null: the owner's default then.
  await db.schema.alterTable('resumable_uploads').addColumn('file_expires_in', 'bigint').execute();
}
