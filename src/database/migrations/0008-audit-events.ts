import { Kysely, PostgresAdapter } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // The audit trail (src/audit): rows are only ever inserted, and removed when older than
  // AUDIT_RETENTION_DAYS. No foreign keys: an event outlives the user, file or link it names.
  await db.schema
    .createTable('audit_events')
    // Increasing with every insert: the key that pages are cut on, newest first.
    .addColumn('id', postgres ? 'bigserial' : 'integer', (c) =>
      postgres ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    // `user` (actor_id: the user's id), `link` (a hash of the signed link), `username` (a failed
    // login: the name tried), `cli` or `system` (no actor_id).
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('file_id', 'text')
    .addColumn('client_address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('request_id', 'text')
    // A download's range (first and last byte) and the bytes that really went out.
    .addColumn('range_start', 'bigint')
    .addColumn('range_end', 'bigint')
    .addColumn('bytes_sent', 'bigint')
    // A small JSON object of what else the action says (a user's new role, a blur's source).
    .addColumn('details', 'text')
    .execute();
  // One per filter of GET /admin/audit, each ending in the paging key; `at` also for retention.
  for (const column of ['actor_id', 'file_id', 'action'] as const) {
    await db.schema
      .createIndex(`audit_events_${column}_idx`)
      .on('audit_events')
      .columns([column, 'id'])
      .execute();
  }
  await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute();
}
