import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ByteRange } from './file-store.js';

/**
 * Read buffers shared by every download. Streaming allocates nothing once warm: a fresh 1 MiB
 * buffer per chunk is external memory, which V8 answers with full collections of the whole heap
 * (measured: about 20 per GiB sent, ~40 ms each in this service, and the RSS grows by hundreds of
 * MiB between them).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly bufferSize: number,
    private readonly maxIdle: number,
  ) {}

  /** A buffer for `length` bytes: a pooled one, or for less than half of one, one of its own. */
  take(length: number): Buffer {
    // A small file does not hold a whole pooled buffer: Node carves small buffers from a shared slab.
    if (length < this.bufferSize / 2) return Buffer.allocUnsafe(length);
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }

  give(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.free.length < this.maxIdle)
      this.free.push(buffer);
  }
}

/**
 * Where the chunks go when the stream is piped straight into it (an HTTP response): the bytes it
 * has not yet handed to the kernel, and 'finish' once it has handed them all.
 */
interface ChunkSink extends NodeJS.WritableStream {
  readonly writableLength: number;
}

/**
 * A byte range of an open file, read in pooled buffers when it is piped straight into a sink
 * that is not itself readable (an HTTP response): then a buffer returns to the pool only once
 * every byte pushed from it has left the sink: everything pushed, minus what this stream still
 * buffers and what the sink has not written yet, is gone. (That count is conservative: the
 * response's headers are counted too.) What is still out when the stream ends goes back when the
 * sink finishes; a sink that closes unfinished (the client left) may still hold a buffer in a
 * cancelled write, so those are left to the garbage collector. Pipe's backpressure keeps two or
 * three buffers in use per stream; when none is free, a new one is made rather than waiting.
 * Read any other way (iterated, or piped into a transform whose buffers it cannot see), every
 * chunk is a buffer of its own.
 */
export class RecyclingReadStream extends Readable {
  /** Pushed buffers, oldest first, with the total bytes pushed when each was. */
  private readonly outstanding: { buffer: Buffer; pushedThrough: number }[] = [];
  private pushed = 0;
  private position: number;
  private sink: ChunkSink | undefined;
  private recycling = true;

  constructor(
    private readonly handle: FileHandle,
    private readonly range: ByteRange,
    private readonly pool: BufferPool,
  ) {
    super({ highWaterMark: 0 });
    this.position = range.start;
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const isPlainSink = !('read' in destination) && 'writableLength' in destination;
    if (this.pushed === 0 && this.sink === undefined && isPlainSink) {
      const sink = destination as unknown as ChunkSink;
      this.sink = sink;
      sink.once('finish', () => this.returnAll());
      sink.once('close', () => (this.outstanding.length = 0));
    } else {
      this.recycling = false;
      this.outstanding.length = 0;
    }
    return super.pipe(destination, options);
  }

  override _read(): void {
    this.readNext().catch((error: Error) => this.destroy(error));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }

  private async readNext(): Promise<void> {
    this.reclaim();
    const remaining = this.range.end - this.position + 1;
    if (remaining <= 0) {
      this.push(null);
      return;
    }
    const buffer =
      this.sink && this.recycling ? this.pool.take(remaining) : takeOwn(remaining, this.pool);
    const { bytesRead } = await this.handle.read(
      buffer,
      0,
      Math.min(buffer.length, remaining),
      this.position,
    );
    if (this.destroyed) return;
    if (bytesRead === 0) throw new Error('the stored file is shorter than its registry entry');
    this.position += bytesRead;
    this.pushed += bytesRead;
    if (this.sink && this.recycling) this.outstanding.push({ buffer, pushedThrough: this.pushed });
    this.push(buffer.subarray(0, bytesRead));
  }

  private returnAll(): void {
    for (const { buffer } of this.outstanding.splice(0)) this.pool.give(buffer);
  }

  private reclaim(): void {
    if (!this.sink || !this.recycling) return;
    const gone = this.pushed - this.readableLength - this.sink.writableLength;
    while (this.outstanding.length > 0 && this.outstanding[0].pushedThrough <= gone) {
      this.pool.give(this.outstanding.shift()!.buffer);
    }
  }
}

/** A buffer nobody else will ever be handed: for chunks whose reader the stream cannot watch. */
function takeOwn(length: number, pool: BufferPool): Buffer {
  return Buffer.allocUnsafeSlow(Math.min(length, pool.bufferSize));
}
