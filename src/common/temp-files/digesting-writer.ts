import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What was learnt of a file while it was written: nothing is read back afterwards. */
export interface WrittenFile {
  path: string;
  size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  /** The first bytes (up to HEAD_BYTES), enough to tell the file's format. */
  head: Buffer;
}

/** file-type looks at the first few kilobytes; 64 KiB covers its every detector. */
export const HEAD_BYTES = 64 * 1024;

/**
 * How much may be written before the bytes are pushed to disk in the background. The commit
 * fsyncs the file; left alone, the kernel would keep a large upload in the page cache until then
 * and write all of it while the client waits. Flushing as the upload goes overlaps the two
 * (docs/benchmarks.md).
 */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/** Writes of up to 1 MiB: fewer round trips to the thread pool than the default 16 KiB. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/**
 * Streams `source` into a new file at `path` (never overwriting one), hashing and counting the
 * bytes as they pass. Memory stays at a few chunks plus the head, whatever the size.
 */
export async function writeDigesting(source: Readable, path: string): Promise<WrittenFile> {
  // 0600: an upload is its owner's business, not that of other accounts on the machine.
  const file = await open(path, 'wx', 0o600).catch((error: unknown) => {
    source.destroy(); // as the pipeline would: the upload's stream is not left half-read
    throw error;
  });
  const flusher = new BackgroundFlusher(file);
  const hash = createHash('sha256');
  const headChunks: Buffer[] = [];
  let size = 0;
  let headSize = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      if (headSize < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - headSize);
        headChunks.push(Buffer.from(part));
        headSize += part.length;
      }
      flusher.written(chunk.length);
      done(null, chunk);
    },
  });
  // Not closed by the stream: a flush may still be running when the last write is done.
  const writer = file.createWriteStream({ autoClose: false, highWaterMark: WRITE_BUFFER_BYTES });
  try {
    await pipeline(source, meter, writer);
  } finally {
    await flusher.idle();
    writer.destroy(); // a FileHandle does not close while a stream of it lives
    await file.close();
  }
  return { path, size, sha256: hash.digest('hex'), head: Buffer.concat(headChunks) };
}

/** Starts an fdatasync every FLUSH_EVERY_BYTES, one at a time, while writing goes on. */
class BackgroundFlusher {
  private unflushed = 0;
  private flushing: Promise<void> | undefined;

  constructor(private readonly file: FileHandle) {}

  written(bytes: number): void {
    this.unflushed += bytes;
    if (this.unflushed < FLUSH_EVERY_BYTES || this.flushing) return;
    this.unflushed = 0;
    // Only a head start: a real failure to write surfaces again at the commit's fsync.
    this.flushing = this.file
      .datasync()
      .catch(() => undefined)
      .finally(() => (this.flushing = undefined));
  }

  /** The file may be closed once this resolves. */
  async idle(): Promise<void> {
    await this.flushing;
  }
}
