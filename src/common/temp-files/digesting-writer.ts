import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
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
 * Streams `source` into a new file at `path` (never overwriting one), hashing and counting the
 * bytes as they pass. Memory stays at one chunk plus the head, whatever the size.
 */
export async function writeDigesting(source: Readable, path: string): Promise<WrittenFile> {
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
      done(null, chunk);
    },
  });
  await pipeline(source, meter, createWriteStream(path, { flags: 'wx' }));
  return { path, size, sha256: hash.digest('hex'), head: Buffer.concat(headChunks) };
}
