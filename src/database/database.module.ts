import { Global, Logger, Module } from '@nestjs/common';
import { PostgresAdapter, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { Database } from './database.js';
import { Leases } from './leases.js';
import { migrations } from './migrations/index.js';
import { queryMetrics } from './query-metrics.js';

/** Opens the registry database and brings its schema up to date before anything uses it. */
@Global()
@Module({
  providers: [
    {
      provide: Database,
      // The CLI has no metrics.
      inject: [AppConfig, { token: Metrics, optional: true }],
      useFactory: async (config: AppConfig, metrics?: Metrics) => {
        const db = Database.connect(config.database, queryMetrics(metrics));
        try {
          await migrateToLatest(db);
        } catch (error) {
          await db.destroy();
          throw error;
        }
        return db;
      },
    },
    Leases,
  ],
  exports: [Database, Leases],
})
export class DatabaseModule {}

export async function migrateToLatest(db: Database): Promise<void> {
  const logger = new Logger('Migrations');
  const migrator = new Migrator({
    db: db.withoutPlugins(),
    provider: { getMigrations: () => Promise.resolve(migrations) },
    migrationTableSchema: await currentSchema(db),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  for (const result of results) {
    if (result.status === 'Success') logger.log(`applied ${result.migrationName}`);
    if (result.status === 'Error') logger.error(`failed ${result.migrationName}`);
  }
  if (error instanceof Error) throw error;
  if (error) throw new Error('the migrations failed', { cause: error });
}

/**
 * On PostgreSQL, the schema the connection works in (its search_path). Named explicitly because
 * the migrator otherwise finds its tables in any schema of the database, such as another
 * deployment's, and then skips creating its own.
 */
async function currentSchema(db: Database): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0].schema;
}
