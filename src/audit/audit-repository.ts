import { Injectable } from '@nestjs/common';
import { CompiledQuery, type Insertable, type Selectable } from 'kysely';
import { Database } from '../database/database.js';
import type { AuditEventsTable } from '../database/tables.js';
import type { AuditAction, AuditActor, AuditEvent } from './audit-event.js';

export type NewAuditRow = Insertable<AuditEventsTable>;

export interface AuditFilter {
  /** The acting user's id. */
  userId?: string;
  fileId?: string;
  action?: AuditAction;
  /** Inclusive, epoch milliseconds. */
  since?: number;
  /** Exclusive, epoch milliseconds. */
  until?: number;
}

/** Rows removed by one statement of `deleteOlderThan`: a long retention pass holds no long lock. */
const DELETE_BATCH = 1000;

/** Every column an insert sets, in the order of its parameters. */
const COLUMNS = [
  'at',
  'action',
  'actorKind',
  'actorId',
  'fileId',
  'clientAddress',
  'userAgent',
  'requestId',
  'rangeStart',
  'rangeEnd',
  'bytesSent',
  'details',
] as const satisfies readonly (keyof NewAuditRow)[];

/**
 * The same, with each one's name in `audit_events`, for a writer that does without Kysely (and its
 * CamelCasePlugin): `SqliteAuditWriter`'s worker.
 */
export const AUDIT_INSERT_COLUMNS: readonly { property: keyof NewAuditRow; column: string }[] =
  COLUMNS.map((property) => ({
    property,
    column: property.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
  }));

/** Batch sizes whose insert statement is kept: the full batch, and a few others. */
const KEPT_STATEMENTS = 4;

/** The `audit_events` table: inserted in batches, read in keyset pages, pruned by age. */
@Injectable()
export class AuditRepository {
  /** The SQL of an insert of n rows, by n. */
  private readonly insertSql = new Map<number, string>();

  constructor(private readonly db: Database) {}

  /**
   * One multi-row insert: PostgreSQL's (SQLite's batches go through `SqliteAuditWriter`). Its SQL, which Kysely builds, is kept by row count and only the values
   * change: building a 500-row statement costs as much CPU as the insert itself does on SQLite.
   */
  async insert(rows: NewAuditRow[]): Promise<void> {
    const params = rows.flatMap((row) => COLUMNS.map((column) => row[column] ?? null));
    await this.db.executeQuery(CompiledQuery.raw(this.insertSqlFor(rows.length), params));
  }

  private insertSqlFor(count: number): string {
    let text = this.insertSql.get(count);
    if (text === undefined) {
      const row = Object.fromEntries(COLUMNS.map((column) => [column, null])) as NewAuditRow;
      text = this.db
        .insertInto('auditEvents')
        .values(Array.from({ length: count }, () => row))
        .compile().sql;
      if (this.insertSql.size >= KEPT_STATEMENTS) {
        this.insertSql.delete(this.insertSql.keys().next().value!);
      }
      this.insertSql.set(count, text);
    }
    return text;
  }

  /**
   * Up to `limit` events matching `filter`, by id: newest first below `before`, or oldest first
   * above `after` (what an export streams).
   */
  async page(
    filter: AuditFilter,
    limit: number,
    position: { before?: number; after?: number } = {},
  ): Promise<AuditEvent[]> {
    let query = this.db.selectFrom('auditEvents').selectAll();
    if (filter.userId !== undefined) {
      query = query.where('actorKind', '=', 'user').where('actorId', '=', filter.userId);
    }
    if (filter.fileId !== undefined) query = query.where('fileId', '=', filter.fileId);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    if (position.before !== undefined) query = query.where('id', '<', position.before);
    if (position.after !== undefined) query = query.where('id', '>', position.after);
    const rows = await query
      .orderBy('id', position.after === undefined ? 'desc' : 'asc')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  /** Removes the events recorded before `cutoff` (epoch ms), a batch at a time; returns how many. */
  async deleteOlderThan(cutoff: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const ids = await this.db
        .selectFrom('auditEvents')
        .select('id')
        .where('at', '<', cutoff)
        .orderBy('id')
        .limit(DELETE_BATCH)
        .execute();
      if (ids.length === 0) return removed;
      const result = await this.db
        .deleteFrom('auditEvents')
        .where(
          'id',
          'in',
          ids.map((row) => row.id),
        )
        .executeTakeFirst();
      removed += Number(result.numDeletedRows);
    }
  }
}

function toEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: Number(row.id),
    at: new Date(Number(row.at)),
    action: row.action as AuditAction,
    actor: { kind: row.actorKind as AuditActor['kind'], id: row.actorId },
    fileId: row.fileId,
    clientAddress: row.clientAddress,
    userAgent: row.userAgent,
    requestId: row.requestId,
    range:
      row.rangeStart === null || row.rangeEnd === null
        ? null
        : { start: Number(row.rangeStart), end: Number(row.rangeEnd) },
    bytesSent: row.bytesSent === null ? null : Number(row.bytesSent),
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}
