import { Kysely } from 'kysely';

/**
 * Users provisioned from an OpenID Connect provider are known by their (issuer, subject): never by
 * their username, which a local account may share. Both are null for local users; NULLs are
 * distinct in a unique index on both dialects, so local users never collide.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // One column per statement: SQLite adds a single column per ALTER TABLE.
  await db.schema.alterTable('users').addColumn('external_issuer', 'text').execute();
  await db.schema.alterTable('users').addColumn('external_subject', 'text').execute();
  await db.schema
    .createIndex('users_external_identity_idx')
    .on('users')
    .columns(['external_issuer', 'external_subject'])
    .unique()
    .execute();
}
