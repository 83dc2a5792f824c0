import type { Readable } from 'node:stream';
import type { ChunkConsumer } from './recycling-read-stream.js';

/** An inclusive byte range, as HTTP numbers them. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The bytes a registry row names are not in the store. */
export class StoredBytesMissingError extends Error {}

/**
 * Where stored bytes live, by storage key. Uploads arrive as local temp files (see `TempFiles`);
 * `put` makes one durable under a key. Local disk implements it now, an object store later.
 */
export abstract class FileStore {
  /** Makes the temp file at `tempPath` durable as `key`, moving it (it is gone afterwards). */
  abstract put(key: string, tempPath: string): Promise<void>;

  /**
   * The bytes `range` of `key`. Given the `consumer` that writes them out (an HTTP response), the
   * chunks are pooled buffers, reused once the consumer has written them: pass one only when
   * nothing else keeps the chunks.
   * @throws StoredBytesMissingError
   */
  abstract read(key: string, range: ByteRange, consumer?: ChunkConsumer): Promise<Readable>;

  /** Removes `key`; a key that is not there is not an error. */
  abstract remove(key: string): Promise<void>;

  /** Every stored key with its last modification time, for the sweeper. */
  abstract keys(): AsyncIterable<{ key: string; modifiedAt: Date }>;
}
