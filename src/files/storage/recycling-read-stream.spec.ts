import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BufferPool, RecyclingReadStream } from './recycling-read-stream.js';

/**
 * A consumer like a socket: it keeps each chunk until its write completes (a little later) and only
 * then reads it. It accepts four chunks before pushing back, so the stream reads on while earlier
 * chunks are still pending: a buffer reused too early would arrive changed.
 */
class SlowConsumer extends Writable {
  private readonly hash = createHash('sha256');
  received = 0;

  constructor() {
    super({ highWaterMark: 4 * 64 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error) => void): void {
    setTimeout(() => {
      this.hash.update(chunk);
      this.received += chunk.length;
      done();
    }, 1);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

describe('RecyclingReadStream', () => {
  let dir: string;
  let path: string;
  const data = randomBytes(5 * 64 * 1024 + 123);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recycling-'));
    path = join(dir, 'data');
    await writeFile(path, data);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function send(range: { start: number; end: number }, pool: BufferPool) {
    const consumer = new SlowConsumer();
    await pipeline(new RecyclingReadStream(await open(path), range, pool), consumer);
    return consumer;
  }

  it('delivers exactly the bytes of the range, reusing its buffers', async () => {
    let made = 0;
    const pool = new BufferPool(64 * 1024, 8);
    const take = pool.take.bind(pool);
    pool.take = (length: number) => {
      const buffer = take(length);
      if (!(buffer as Buffer & { seen?: boolean }).seen) made++;
      (buffer as Buffer & { seen?: boolean }).seen = true;
      return buffer;
    };
    const whole = await send({ start: 0, end: data.length - 1 }, pool);
    expect(whole.received).toBe(data.length);
    expect(whole.digest()).toBe(createHash('sha256').update(data).digest('hex'));
    // Six chunks went through, in fewer buffers than that.
    expect(made).toBeLessThan(6);
  });

  it('reads a range from its start to its end, inclusive', async () => {
    const part = await send({ start: 1000, end: 200_000 }, new BufferPool(64 * 1024, 8));
    expect(part.received).toBe(199_001);
    expect(part.digest()).toBe(
      createHash('sha256').update(data.subarray(1000, 200_001)).digest('hex'),
    );
  });

  it('fails, rather than ends early, when the file is shorter than the range', async () => {
    const consumer = new SlowConsumer();
    const stream = new RecyclingReadStream(
      await open(path),
      { start: 0, end: data.length + 10 },
      new BufferPool(64 * 1024, 8),
    );
    await expect(pipeline(stream, consumer)).rejects.toThrow('shorter than its registry entry');
  });

  it('hands every chunk a buffer of its own when it cannot watch the reader', async () => {
    const pool = new BufferPool(64 * 1024, 8);
    const stream = new RecyclingReadStream(
      await open(path),
      { start: 0, end: data.length - 1 },
      pool,
    );
    // Kept, not consumed at once: a reused buffer would change the chunks already received.
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });
});
