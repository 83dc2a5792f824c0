import type { LogEvent } from 'kysely';
import type { Labels, Metrics } from '../metrics/metrics.js';

/** Query kinds by the root node Kysely built: bounded, and never the SQL text. */
const KIND_OF_NODE: Readonly<Record<string, string>> = {
  SelectQueryNode: 'select',
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
  MergeQueryNode: 'merge',
  RawNode: 'raw',
  // The migrations'.
  CreateTableNode: 'schema',
  AlterTableNode: 'schema',
  DropTableNode: 'schema',
  CreateIndexNode: 'schema',
  DropIndexNode: 'schema',
  CreateSchemaNode: 'schema',
  CreateViewNode: 'schema',
  DropViewNode: 'schema',
};

/**
 * Each (kind, outcome)'s labels, made once: the histogram finds a series by its labels object.
 */
const LABELS: Readonly<Record<string, Record<'ok' | 'error', Labels<'kind' | 'outcome'>>>> =
  Object.fromEntries(
    [...new Set(Object.values(KIND_OF_NODE)), 'other'].map((kind) => [
      kind,
      { ok: { kind, outcome: 'ok' }, error: { kind, outcome: 'error' } },
    ]),
  );

/**
 * Kysely's `log` option that times every query into `files_db_query_duration_seconds`, by kind
 * (select, insert, update, delete; raw: a `sql` template; schema: a migration's; other) and
 * outcome (ok, error). Undefined with metrics off: Kysely then does not even time its queries.
 */
export function queryMetrics(
  metrics: Metrics | undefined,
): ((event: LogEvent) => void) | undefined {
  if (!metrics?.enabled) return undefined;
  const durations = metrics.histogram(
    'files_db_query_duration_seconds',
    'Registry database queries, by kind and outcome (ok, error): the error count is the ' +
      '_count of outcome="error"',
    ['kind', 'outcome'],
  );
  return (event) => {
    durations.observe(
      LABELS[KIND_OF_NODE[event.query.query.kind] ?? 'other'][
        event.level === 'error' ? 'error' : 'ok'
      ],
      event.queryDurationMillis / 1000,
    );
  };
}
