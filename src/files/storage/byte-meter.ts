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
  private readonly head = new HeadBytes();
  // Not `size`: lib-storage's Upload takes a Body's `size` for its length, and this one is a body.
  private byteCount = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    this.head.add(chunk);
    done(null, chunk);
  }

  /** What passed; call once, after the last byte. */
  result(): WrittenBytes {
    return {
      size: this.byteCount,
      sha256: this.hash.digest('hex'),
      head: this.head.bytes(),
    };
  }
}

/** The first HEAD_BYTES of bytes passing by, from `saved` (those of earlier writes) on. */
export class HeadBytes {
  private readonly parts: Buffer[];
  private size: number;

  constructor(saved: Buffer = Buffer.alloc(0)) {
    this.parts = [saved];
    this.size = saved.length;
  }

  /** Whether it has all it keeps: later bytes change nothing. */
  get full(): boolean {
    return this.size >= HEAD_BYTES;
  }

  add(chunk: Buffer): void {
    if (this.full) return;
    // A copy: the chunk's buffer may be reused once written (a pooled socket read).
    const part = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.size));
    this.parts.push(part);
    this.size += part.length;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}
