import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { sql } from 'kysely';
import { Database } from '../database/database.js';
import { migrateToLatest } from '../database/database.module.js';
import type { NewAuditRow } from './audit-repository.js';
import { SqliteAuditWriter } from './sqlite-audit-writer.js';

function download(n: number): NewAuditRow {
  return {
    at: 1_700_000_000_000 + n,
    action: 'file.downloaded',
    actorKind: 'user',
    actorId: `user-${n}`,
    fileId: `file-${n}`,
    clientAddress: '203.0.113.7',
    userAgent: n % 2 ? 'curl/8' : null,
    requestId: `request-${n}`,
    rangeStart: 0,
    rangeEnd: 4095,
    bytesSent: 4096 - n,
    details: null,
  };
}

describe('SqliteAuditWriter', () => {
  let storageDir: string;
  let file: string;
  let db: Database;
  let writer: SqliteAuditWriter;

  const stored = () =>
    db.selectFrom('auditEvents').selectAll().orderBy('id').execute() as Promise<
      (NewAuditRow & { id: number })[]
    >;

  // The migrations log what they apply.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'sqlite-audit-writer-test-'));
    file = join(storageDir, 'registry.sqlite');
    db = Database.connect({ dialect: 'sqlite', file });
    await migrateToLatest(db);
    writer = new SqliteAuditWriter(file);
  });

  afterEach(async () => {
    await writer.close();
    await db.destroy();
    await rm(storageDir, { recursive: true, force: true });
  });

  it('inserts each batch, in order, every column as given; the main connection reads them', async () => {
    const rows = Array.from({ length: 7 }, (_, n) => download(n));
    await writer.write(rows.slice(0, 5));
    await writer.write(rows.slice(5));
    const read = await stored();
    expect(read.map(({ id: _id, ...row }) => row)).toEqual(rows);
    expect(read.map((row) => row.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a batch the database refuses with its message, and writes the next one', async () => {
    await writer.write([download(1)]);
    await sql`alter table audit_events rename to audit_events_away`.execute(db);
    // The statement kept for one row must not outlive the table it was prepared on.
    const refused = await writer.write([download(2)]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/audit_events/);
    await sql`alter table audit_events_away rename to audit_events`.execute(db);
    await writer.write([download(3)]);
    expect((await stored()).map((row) => row.actorId)).toEqual(['user-1', 'user-3']);
  });

  it('ends its worker on close, and starts another for a later batch', async () => {
    await writer.write([download(1)]);
    await writer.close();
    await writer.write([download(2)]);
    expect(await stored()).toHaveLength(2);
  });

  it('refuses a batch it cannot open the database for, without stopping the process', async () => {
    const lost = new SqliteAuditWriter(join(storageDir, 'no-such-dir', 'registry.sqlite'));
    const refused = await lost.write([download(1)]).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    await lost.close();
  });

  it("does not break a main-connection transaction that read before the worker's commit", async () => {
    // The transaction holds the write lock from its BEGIN (IMMEDIATE): the worker's insert waits
    // for its commit rather than invalidating what it read.
    let written: Promise<void> | undefined;
    await db.transaction().execute(async (trx) => {
      await trx.selectFrom('auditEvents').select('id').execute();
      written = writer.write([download(1)]);
      await sleep(100);
      await trx
        .insertInto('auditEvents')
        .values({ ...download(2) })
        .execute();
    });
    await written;
    expect((await stored()).map((row) => row.actorId)).toEqual(['user-2', 'user-1']);
  });
});
