import { Kysely, PostgresAdapter } from 'kysely';

/**
 * The one column type the dialects spell differently: PostgreSQL stores ids as `uuid`, SQLite as
 * `text` (a column declared `uuid` would get SQLite's NUMERIC affinity). Lowercase UUID text and
 * PostgreSQL's uuid sort alike, so keyset pagination orders the same on both.
 */
export function idType(db: Kysely<unknown>): 'uuid' | 'text' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'uuid' : 'text';
}
