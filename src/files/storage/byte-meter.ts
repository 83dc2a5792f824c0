import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { WrittenBytes } from './file-store.js';

/** file-type looks at the first few kilobytes; 64 KiB covers its every detector. */
export const HEAD_BYTES = 64 * 1024;

/**
 * Passes bytes through unchanged, counting them, hashing them (SHA-256) and keeping the first
 * HEAD_BYTES: what every store reports of a write, learnt without reading anything back.
 */
export class ByteMeter extends Transform {
  private readonly hash = createHash('sha256');
  private readonly headChunks: Buffer[] = [];
  private headSize = 0;
  // Not `size`: lib-storage's Upload takes a Body's `size` for its length, and this one is a body.
  private byteCount = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    if (this.headSize < HEAD_BYTES) {
      // A copy: the chunk's buffer may be reused once written (a pooled socket read).
      const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.headSize));
      this.headChunks.push(part);
      this.headSize += part.length;
    }
    done(null, chunk);
  }

  /** What passed; call once, after the last byte. */
  result(): WrittenBytes {
    return {
      size: this.byteCount,
      sha256: this.hash.digest('hex'),
      head: Buffer.concat(this.headChunks),
    };
  }
}
