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

/**
 * Where a resumable write of a key stands: `offset` bytes are durable, and `state` is the store's
 * own record of them (opaque to everyone else), saved by the caller between appends and handed
 * back with the next one.
 */
export interface ResumableWrite {
  offset: number;
  state: string;
}

/** What an append left: the write's new standing, and what to tidy once that is saved. */
export interface AppendedBytes {
  write: ResumableWrite;
  /**
   * Removes what only the write's previous standing needed (S3: its tail object). Call it once
   * the new standing is saved; until then, the previous one must still be good to go on from.
   */
  release(): Promise<void>;
}

/**
 * Bytes read from the store: in memory when the store keeps them there (a small local file), a
 * stream otherwise. A response sends the Buffer in one write, without a stream's machinery.
 */
export type StoredBytes = Buffer | Readable;

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
   * Begins a write of `length` bytes to `key` that goes on over many appends, each from where the
   * saved standing says (a tus upload). Nothing is under `key` until `completeResumable`.
   */
  abstract startResumable(key: string, length: number): Promise<ResumableWrite>;

  /**
   * Appends the bytes of `source` at `write.offset`. `accepted` sees each chunk once the store
   * has taken it, in order: when the append resolves, all those chunks are durable and nothing
   * else is, even when `source` ended early. `source` must not throw (a request cut short simply
   * ends); a rejection is the store's failure, and then `write` is still the standing to go on
   * from.
   */
  abstract appendResumable(
    key: string,
    write: ResumableWrite,
    source: AsyncIterable<Buffer>,
    accepted: (chunk: Buffer) => void,
  ): Promise<AppendedBytes>;

  /** Makes the write's bytes (all `length` of them) the bytes of `key`; again once done, nothing. */
  abstract completeResumable(key: string, write: ResumableWrite): Promise<void>;

  /** Drops an unfinished resumable write, whatever it holds. */
  abstract abortResumable(key: string, write: ResumableWrite): Promise<void>;

  /**
   * The bytes `range` of `key` (all of them without one): a Buffer when the store holds them in
   * memory (never to be written to: it is the store's), else a stream; destroying the stream frees
   * what it holds (a descriptor, a socket).
   * @throws StoredBytesMissingError
   */
  abstract read(key: string, range?: ByteRange): Promise<StoredBytes>;

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
