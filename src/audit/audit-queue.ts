/** Where batches of queued items go: one call, one multi-row insert. */
export interface BatchWriter<T> {
  write(batch: T[]): Promise<void>;
}

export interface AuditQueueOptions {
  /** Items that may wait; past that, new ones are dropped (and counted). */
  limit: number;
  /** Items written at once; a full batch is written without waiting for the timer. */
  batchSize: number;
  /** How often what waits is written. */
  intervalMs: number;
  /** Told of a batch the writer failed to take, which is dropped. */
  onWriteError: (error: unknown, dropped: number) => void;
}

/**
 * A bounded queue in front of a slow writer (the database): `push` never waits and never throws,
 * so the request that records an event never depends on the writer. Items are written in batches,
 * every `intervalMs` or as soon as a batch is full, one batch at a time. When the queue is full or
 * the writer fails, items are dropped and counted in `dropped`: serving goes on without them.
 */
export class AuditQueue<T> {
  private items: T[] = [];
  private writing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private droppedCount = 0;

  constructor(
    private readonly writer: BatchWriter<T>,
    private readonly options: AuditQueueOptions,
  ) {}

  /** Items dropped since start: the queue was full, or the writer refused their batch. */
  get dropped(): number {
    return this.droppedCount;
  }

  get length(): number {
    return this.items.length;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.intervalMs);
    // Waiting events must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  push(item: T): void {
    if (this.items.length >= this.options.limit) {
      this.droppedCount++;
      return;
    }
    this.items.push(item);
    // A write under way takes the rest when it is done: no new flush for each item meanwhile.
    if (this.items.length >= this.options.batchSize && !this.writing) void this.flush();
  }

  /** Resolves once everything queued before the call has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.writing || this.items.length > 0) {
      this.writing ??= this.writeAll().finally(() => (this.writing = undefined));
      await this.writing;
    }
  }

  private async writeAll(): Promise<void> {
    while (this.items.length > 0) {
      const batch = this.items.splice(0, this.options.batchSize);
      try {
        await this.writer.write(batch);
      } catch (error) {
        this.droppedCount += batch.length;
        this.options.onWriteError(error, batch.length);
      }
    }
  }
}
