import type { Readable } from 'node:stream';

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
   * The stored bytes of `key` (or of `range`), read in chunks of `chunkSize`.
   * @throws StoredBytesMissingError
   */
  abstract read(key: string, range: ByteRange | undefined, chunkSize: number): Promise<Readable>;

  /** Removes `key`; a key that is not there is not an error. */
  abstract remove(key: string): Promise<void>;

  /** Every stored key with its last modification time, for the sweeper. */
  abstract keys(): AsyncIterable<{ key: string; modifiedAt: Date }>;
}
