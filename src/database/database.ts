import { OnApplicationShutdown } from '@nestjs/common';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import SQLite from 'better-sqlite3';
import {
  CamelCasePlugin,
  CompiledQuery,
  type DatabaseConnection,
  Dialect,
  type Driver,
  Kysely,
  type LogEvent,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  Transaction,
} from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/app-config.js';
import type { Tables } from './tables.js';
import { isSerializationFailure } from './database-errors.js';

/**
 * The registry database: one Kysely instance for SQLite and PostgreSQL alike. Columns are
 * snake_case in the database and camelCase in TypeScript (CamelCasePlugin).
 */
export class Database extends Kysely<Tables> implements OnApplicationShutdown {
  /** `log` sees every query once it ran or failed (see `queryMetrics`). */
  static connect(config: DatabaseConfig, log?: (event: LogEvent) => void): Database {
    return new Database({ dialect: createDialect(config), plugins: [new CamelCasePlugin()], log });
  }

  /**
   * Runs `work` in a serializable transaction, retried when PostgreSQL aborts it for a
   * concurrent change. SQLite runs one writer at a time, which is serializable already.
   */
  async serializable<T>(work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction().setIsolationLevel('serializable').execute(work);
      } catch (error) {
        if (attempt >= 5 || !isSerializationFailure(error)) throw error;
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.destroy();
  }
}

/** bigint columns hold sizes and epoch milliseconds: both fit a JavaScript number. */
function parseBigintAsNumber(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  const INT8 = 20;
  return oid === INT8
    ? Number
    : (pg.types.getTypeParser(oid, format) as (value: string) => unknown);
}

/**
 * How long a SQLite connection waits for another's write lock before it gives up: the service's
 * and the audit trail's writer (SqliteAuditWriter) wait alike.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

function createDialect(config: DatabaseConfig): Dialect {
  if (config.dialect === 'postgres') {
    return new PostgresDialect({
      pool: new pg.Pool({
        connectionString: config.url,
        max: 10,
        types: { getTypeParser: parseBigintAsNumber as typeof pg.types.getTypeParser },
      }),
    });
  }
  assertSqliteDriverFitsRuntime();
  return new SqliteDialectBeginningImmediate({
    database: () => {
      createPrivately(config.file);
      const sqlite = withStatementCache(new SQLite(config.file));
      sqlite.pragma('journal_mode = WAL');
      // An acknowledged upload must survive a power cut, not only a crash of the process.
      sqlite.pragma('synchronous = FULL');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
      return Promise.resolve(sqlite);
    },
  });
}

/**
 * SQLite's dialect, whose transactions take the write lock as they begin (BEGIN IMMEDIATE), waiting
 * for it as `busy_timeout` says. The audit trail writes from a connection of its own (see
 * SqliteAuditWriter): a deferred transaction that read before that connection committed could no
 * longer write (SQLITE_BUSY_SNAPSHOT, at once, without waiting) and would fail its request.
 */
class SqliteDialectBeginningImmediate extends SqliteDialect {
  constructor(private readonly sqliteConfig: SqliteDialectConfig) {
    super(sqliteConfig);
  }

  override createDriver(): Driver {
    return new SqliteDriverBeginningImmediate(this.sqliteConfig);
  }
}

class SqliteDriverBeginningImmediate extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Creates the SQLite file, if there is none, readable by its owner only: it holds password
 * hashes, and SQLite would create it 0644. SQLite gives the -wal and -shm files it makes beside
 * it the main file's permissions. An existing file keeps the mode it has.
 */
function createPrivately(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
}

/**
 * Kysely prepares every query it runs; preparing is most of the cost of a small SQLite lookup.
 * better-sqlite3 statements can be run again and again, so the connection keeps the last 200 it
 * prepared, by their SQL text.
 */
function withStatementCache(sqlite: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (statement) {
      // Most recently used last: the first key is the one to drop.
      cache.delete(source);
    } else {
      statement = prepare(source);
      if (cache.size >= 200) cache.delete(cache.keys().next().value!);
    }
    cache.set(source, statement);
    return statement;
  }) as typeof sqlite.prepare;
  return sqlite;
}

/**
 * better-sqlite3 12 builds on Node's raw ObjectWrap, whose destructor aborts the whole process on
 * Node 24 when a statement is garbage-collected (WiseLibs/better-sqlite3#1515); 13, built on
 * N-API, does not, but needs Node 22 or later. Refusing to start beats dying under load.
 */
function assertSqliteDriverFitsRuntime(): void {
  const driver = (
    createRequire(import.meta.url)('better-sqlite3/package.json') as { version: string }
  ).version;
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor >= 24 && Number(driver.split('.')[0]) < 13) {
    throw new Error(
      `better-sqlite3 ${driver} aborts on Node ${process.versions.node} (WiseLibs/better-sqlite3#1515): ` +
        'run `npm install better-sqlite3@^13` (as the Docker image does), or use Node 20 or 22',
    );
  }
}
