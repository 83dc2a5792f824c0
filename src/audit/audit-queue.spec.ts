import { AuditQueue, type BatchWriter } from './audit-queue.js';

/** A writer of our own interface that keeps what it is given, or refuses while `down`. */
class RecordingWriter implements BatchWriter<number> {
  batches: number[][] = [];
  down = false;

  write(batch: number[]): Promise<void> {
    if (this.down) return Promise.reject(new Error('connection refused'));
    this.batches.push(batch);
    return Promise.resolve();
  }
}

describe('AuditQueue', () => {
  let writer: RecordingWriter;
  let errors: number[];
  const queueOf = (limit: number, batchSize: number) =>
    new AuditQueue(writer, {
      limit,
      batchSize,
      intervalMs: 60_000,
      onWriteError: (_error, dropped) => errors.push(dropped),
    });

  beforeEach(() => {
    writer = new RecordingWriter();
    errors = [];
  });

  it('writes what waits in batches, one write per batch, in order', async () => {
    const queue = queueOf(100, 3);
    for (let i = 0; i < 7; i++) queue.push(i);
    await queue.flush();
    expect(writer.batches).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(queue.length).toBe(0);
    expect(queue.dropped).toBe(0);
  });

  it('writes a full batch without waiting for the timer', async () => {
    const queue = queueOf(100, 2);
    queue.push(1);
    queue.push(2);
    // Neither flush() nor the timer (a minute away): the full batch went by itself.
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.batches).toEqual([[1, 2]]);
  });

  it('drops and counts what comes past its limit, without throwing', async () => {
    const queue = queueOf(5, 100);
    for (let i = 0; i < 8; i++) queue.push(i);
    expect(queue.length).toBe(5);
    expect(queue.dropped).toBe(3);
    await queue.flush();
    expect(writer.batches).toEqual([[0, 1, 2, 3, 4]]);
  });

  it('counts a batch the writer refuses as dropped, and goes on once it is back', async () => {
    const queue = queueOf(100, 2);
    writer.down = true;
    for (let i = 0; i < 3; i++) queue.push(i);
    await queue.flush();
    expect(queue.dropped).toBe(3);
    expect(errors).toEqual([2, 1]);
    expect(queue.length).toBe(0);

    writer.down = false;
    queue.push(10);
    await queue.flush();
    expect(writer.batches).toEqual([[10]]);
    expect(queue.dropped).toBe(3);
  });

  it('flush waits for a write in progress and for what was pushed meanwhile', async () => {
    let release!: () => void;
    const slow: BatchWriter<number> = {
      write: (batch) => {
        writer.batches.push(batch);
        return batch[0] === 0
          ? new Promise<void>((resolve) => (release = resolve))
          : Promise.resolve();
      },
    };
    const queue = new AuditQueue(slow, {
      limit: 100,
      batchSize: 10,
      intervalMs: 60_000,
      onWriteError: () => undefined,
    });
    queue.push(0);
    const first = queue.flush();
    queue.push(1);
    let done = false;
    const second = queue.flush().then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(writer.batches).toEqual([[0], [1]]);
  });
});
