import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { BatchWriter } from './audit-queue.js';
import { SQLITE_BUSY_TIMEOUT_MS } from '../database/database.js';
import { AUDIT_INSERT_COLUMNS, type NewAuditRow } from './audit-repository.js';

/** What the worker is told: where the database is, and how to write a row. */
interface WriterData {
  /** better-sqlite3's entry point, resolved here: an eval'd worker resolves from the cwd. */
  driver: string;
  file: string;
  /** The row's properties, in the order of `columns`. */
  properties: readonly string[];
  /** Their `audit_events` columns. */
  columns: readonly string[];
  busyTimeoutMs: number;
  keptStatements: number;
}

/** The worker's reply to one batch: `error` is the message of the insert's failure. */
interface Reply {
  error?: string;
}

/**
 * The worker, as source: plain CommonJS run with `eval`, so that it runs the same from dist/ and
 * under Jest (which cannot hand a TypeScript file to a worker). One multi-row insert a batch, its
 * statement prepared once per batch size and kept (Kysely would prepare it anew each time).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const { properties, columns, keptStatements } = workerData;
const db = new SQLite(workerData.file);
db.pragma('journal_mode = WAL');
// As the main connection: an acknowledged event survives a power cut too.
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
const row = '(' + columns.map(() => '?').join(', ') + ')';
const statements = new Map();
function insertOf(count) {
  let statement = statements.get(count);
  if (statement === undefined) {
    statement = db.prepare(
      'insert into audit_events (' + columns.join(', ') + ') values ' +
        Array.from({ length: count }, () => row).join(', '),
    );
    if (statements.size >= keptStatements) statements.delete(statements.keys().next().value);
    statements.set(count, statement);
  }
  return statement;
}
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const params = new Array(message.length * properties.length);
    let i = 0;
    for (const event of message) {
      for (const property of properties) params[i++] = event[property] ?? null;
    }
    insertOf(message.length).run(params);
    parentPort.postMessage({});
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message ? error.message : error) });
  }
});
`;

/**
 * Writes the audit trail's batches into a SQLite database from a worker thread with its own
 * connection: better-sqlite3 runs every statement on the thread that calls it, and a 500-row
 * insert into a table of four indexes (and its fsync) cost the event loop about 5 µs a download.
 * The worker's transactions are short; the main connection's wait for them (its `busy_timeout`),
 * and it begins its own transactions IMMEDIATE (see `Database`), so a commit of the worker's
 * never invalidates a read the main connection is about to write on.
 *
 * The worker starts at the first batch and is unref'd while it has nothing to do: a process with
 * nothing else to do need not wait for it. `close` ends it; a later write starts another.
 */
export class SqliteAuditWriter implements BatchWriter<NewAuditRow> {
  private worker?: Worker;
  /** The batch the worker is writing: the queue hands over one at a time. */
  private inFlight?: { resolve: () => void; reject: (error: Error) => void };

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs = SQLITE_BUSY_TIMEOUT_MS,
  ) {}

  write(rows: NewAuditRow[]): Promise<void> {
    if (this.inFlight) return Promise.reject(new Error('the audit writer takes one batch at once'));
    const worker = this.worker ?? this.start();
    return new Promise<void>((resolve, reject) => {
      this.inFlight = { resolve, reject };
      worker.ref();
      worker.postMessage(rows);
    });
  }

  /** Ends the worker once the batch it writes, if any, is written. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    const data: WriterData = {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: this.file,
      properties: AUDIT_INSERT_COLUMNS.map((column) => column.property),
      columns: AUDIT_INSERT_COLUMNS.map((column) => column.column),
      busyTimeoutMs: this.busyTimeoutMs,
      keptStatements: 4,
    };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: data });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const batch = this.settle(worker);
      if (reply.error === undefined) batch?.resolve();
      else batch?.reject(new Error(reply.error));
    });
    // Ours, not the worker's (another realm's): a failure to open the database, say.
    worker.on('error', (error) =>
      this.settle(worker)?.reject(new Error(`the audit writer failed: ${error.message}`)),
    );
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.settle(worker)?.reject(new Error(`the audit writer stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  /** The batch in flight, now answered: the worker may be left alone again. */
  private settle(worker: Worker): SqliteAuditWriter['inFlight'] {
    const batch = this.inFlight;
    this.inFlight = undefined;
    worker.unref();
    return batch;
  }
}
