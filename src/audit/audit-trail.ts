import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import type { AuditEvent, AuditEventInput } from './audit-event.js';
import { AuditQueue } from './audit-queue.js';
import { AuditRecorder } from './audit-recorder.js';
import type { AuditScene } from './audit-scene.js';
import { AuditRepository, type AuditFilter, type NewAuditRow } from './audit-repository.js';
import { SqliteAuditWriter } from './sqlite-audit-writer.js';

/** Events written by one insert. */
const BATCH_SIZE = 500;
/** How often queued events are written. */
const FLUSH_INTERVAL_MS = 1000;
/** Longest a stop waits for the last events: a database that does not answer must not hold it. */
const SHUTDOWN_FLUSH_MS = 5000;

const DAY_MS = 86_400_000;

/**
 * The audit trail: events recorded by the features (through `AuditRecorder`) wait in a bounded
 * queue and go into `audit_events` in batches, off the request path. With AUDIT_ENABLED=false
 * nothing is queued or written. Also reads the trail back (GET /admin/audit, the CLI's export)
 * and prunes it (`removeExpired`, run by the storage sweeper).
 */
@Injectable()
export class AuditTrail extends AuditRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditTrail.name);
  readonly enabled: boolean;
  private readonly queue: AuditQueue<NewAuditRow>;
  /** On SQLite, the batches are written off the event loop (PostgreSQL's I/O is async anyway). */
  private readonly sqliteWriter?: SqliteAuditWriter;

  constructor(
    private readonly repository: AuditRepository,
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    super();
    this.enabled = config.audit.enabled;
    const database = config.database;
    if (database.dialect === 'sqlite') this.sqliteWriter = new SqliteAuditWriter(database.file);
    this.queue = new AuditQueue<NewAuditRow>(
      this.sqliteWriter ?? { write: (rows) => this.repository.insert(rows) },
      {
        limit: config.audit.queueLimit,
        batchSize: BATCH_SIZE,
        intervalMs: FLUSH_INTERVAL_MS,
        onWriteError: (error, dropped) =>
          this.logger.error(
            `dropped ${dropped} audit events the database refused: ${String(error)}`,
          ),
      },
    );
    metrics.counterFrom(
      'files_audit_events_dropped_total',
      'Audit events lost: the queue was full (AUDIT_QUEUE_LIMIT) or the database refused them',
      () => this.droppedEvents,
    );
    metrics.gaugeFrom(
      'files_audit_events_queued',
      'Audit events waiting in memory for their batch insert',
      () => this.queuedEvents,
    );
  }

  /**
   * Events lost since start: the queue was full (AUDIT_QUEUE_LIMIT) or the database refused
   * their batch. What a metric of dropped audit events reads.
   */
  get droppedEvents(): number {
    return this.queue.dropped;
  }

  /** Events waiting in memory for their insert. */
  get queuedEvents(): number {
    return this.queue.length;
  }

  onModuleInit(): void {
    if (this.enabled) this.queue.start();
  }

  /**
   * Before the database closes (its own hook is `onApplicationShutdown`): what is queued is
   * written, and SQLite's writer closed, unless the database takes longer than SHUTDOWN_FLUSH_MS.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.queue.stop();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.logger.error(
          `stopping without ${this.queue.length} audit events: the database is slow`,
        );
        resolve();
      }, SHUTDOWN_FLUSH_MS);
    });
    const written = this.queue.flush().then(() => this.sqliteWriter?.close());
    await Promise.race([written, timeout]);
    clearTimeout(timer);
  }

  record(event: AuditEventInput, scene: AuditScene): void {
    if (!this.enabled) return;
    const actor = event.actor ?? scene.actor;
    this.queue.push({
      at: Date.now(),
      action: event.action,
      actorKind: actor.kind,
      actorId: 'id' in actor ? actor.id : null,
      fileId: event.fileId ?? null,
      clientAddress: scene.clientAddress,
      userAgent: scene.userAgent,
      requestId: scene.requestId,
      rangeStart: event.range?.start ?? null,
      rangeEnd: event.range?.end ?? null,
      bytesSent: event.bytesSent ?? null,
      details: event.details === undefined ? null : JSON.stringify(event.details),
    });
  }

  /** Writes what is queued now; resolves once it is in the database (or dropped). */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  /** A page of events matching `filter`, newest first, below the event `before` when given. */
  list(filter: AuditFilter, limit: number, before?: number): Promise<AuditEvent[]> {
    return this.repository.page(filter, limit, { before });
  }

  /** Every event matching `filter`, oldest first, read `pageSize` at a time. */
  async *export(filter: AuditFilter, pageSize = 1000): AsyncIterable<AuditEvent> {
    let after = 0;
    for (;;) {
      const page = await this.repository.page(filter, pageSize, { after });
      yield* page;
      if (page.length < pageSize) return;
      after = page.at(-1)!.id;
    }
  }

  /** Removes the events older than AUDIT_RETENTION_DAYS (none when it is 0); returns how many. */
  async removeExpired(): Promise<number> {
    const days = this.config.audit.retentionDays;
    if (days === 0) return 0;
    return this.repository.deleteOlderThan(Date.now() - days * DAY_MS);
  }
}
