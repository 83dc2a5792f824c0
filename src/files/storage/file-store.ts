import type { Readable } from 'node:stream';

/** An inclusive byte range, as HTTP numbers them. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What passed into the store while it wrote a key: learnt on the way, nothing read back. */
export interface WrittenBytes {
  size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
  /** The first bytes (up to HEAD_BYTES), enough to tell the file's format. */
  head: Buffer;
}

/** A key the store holds. */
export interface StoredObject {
  key: string;
  size: number;
  modifiedAt: Date;
}

/**
 * A write that began and never finished: its process died mid-way (a staged local file, an S3
 * multipart upload). Its bytes are nobody's until the sweeper discards them.
 */
export interface IncompleteWrite {
  key: string;
  startedAt: Date;
  discard(): Promise<void>;
}

/** What a presigned URL makes the store answer with. */
export interface PresignOptions {
  expiresInSeconds: number;
  contentType: string;
  contentDisposition: string;
}

/** The bytes a key names are not in the store. */
export class StoredBytesMissingError extends Error {}

/**
 * Where stored bytes live, by storage key (see `storage-key.ts`): local disk or an S3-compatible
 * object store. Knows nothing of HTTP, users or the registry.
 */
export abstract class FileStore {
  /**
   * Streams `source` into `key`, counting and hashing on the way. Once it resolves the bytes are
   * durable; when it rejects (the source failed or was destroyed, the store refused), nothing of
   * `key` is left and the source is destroyed.
   */
  abstract write(key: string, source: Readable): Promise<WrittenBytes>;

  /**
   * The bytes `range` of `key` (all of them without one), as a stream; destroying it frees what
   * it holds (a descriptor, a socket).
   * @throws StoredBytesMissingError
   */
  abstract read(key: string, range?: ByteRange): Promise<Readable>;

  /** What the store holds under `key`, or undefined. */
  abstract stat(key: string): Promise<StoredObject | undefined>;

  /** Removes `key`; a key that is not there is not an error. */
  abstract remove(key: string): Promise<void>;

  /** Every stored key, page by page: memory does not grow with their number. */
  abstract list(): AsyncIterable<StoredObject>;

  /** Writes that began and never finished, for the sweeper (see `IncompleteWrite`). */
  abstract incompleteWrites(): AsyncIterable<IncompleteWrite>;

  /** Resolves when the store answers; rejects with the reason it does not. */
  abstract check(): Promise<void>;

  /** A URL that fetches `key` straight from the store, or undefined when the store has none. */
  presignedUrl(_key: string, _options: PresignOptions): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
}
