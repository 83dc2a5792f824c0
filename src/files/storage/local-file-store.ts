import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  access,
  mkdir,
  open,
  opendir,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../../config/app-config.js';
import { AUTH_STATE_TTL_MS } from '../../common/cached-state.js';
import { ByteMeter } from './byte-meter.js';
import {
  FileStore,
  StoredBytesMissingError,
  type ByteRange,
  type AppendedBytes,
  type IncompleteWrite,
  type ResumableWrite,
  type StoredBytes,
  type StoredObject,
  type WrittenBytes,
} from './file-store.js';
import { BufferPool, RecyclingReadStream } from './recycling-read-stream.js';
import { fileIdOf, isStorageKey, storageKeyOf } from './storage-key.js';

/** 1 MiB reads: measured with plain Node on loopback, 64 KiB reads send a third as fast. */
const READ_BUFFER_BYTES = 1024 * 1024;

/** Writes of up to 1 MiB: fewer round trips to the thread pool than the default 16 KiB. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

/**
 * How much may be written before the bytes are pushed to disk in the background. A write ends
 * with an fsync; left alone, the kernel would keep a large upload in the page cache until then and
 * write all of it while the client waits. Flushing as the upload goes overlaps the two
 * (docs/benchmarks.md).
 */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * The same for an append of a resumable upload, more often: a tus client waits for each append's
 * answer (its final fsync) before it sends the next, so what is left to flush then is idle time.
 */
const APPEND_FLUSH_EVERY_BYTES = 8 * 1024 * 1024;

/** Owner only: stored files are their uploaders' business, not other accounts' on the machine. */
const FOLDER_MODE = 0o700;

/** A staged write of key `ab/cd/<uuid>` is `<uuid>.part` in the staging folder. */
const STAGED_NAME = /^([0-9a-f-]{36})\.part$/;

/** A resumable write of key `ab/cd/<uuid>` is `<uuid>` in the resumable folder. */
const RESUMABLE_NAME = /^[0-9a-f-]{36}$/;

/**
 * Stored bytes on local disk, under STORAGE_DIR/files/<key>. Keys are made by the service
 * (`storageKeyOf`), never by a client, and are checked before any path is made of them. A write
 * is staged in STORAGE_DIR/tmp, fsynced, and renamed into place: a crash leaves either the whole
 * file or a staged one, which the sweeper discards (`incompleteWrites`). A resumable write grows
 * in STORAGE_DIR/resumable, fsynced at the end of every append, until it is renamed into place.
 *
 * Small files (SMALL_FILE_MAX_BYTES at most) are kept in memory once read, SMALL_FILE_CACHE_BYTES
 * in all, the least recently read going first, as nginx's open_file_cache keeps descriptors: a
 * small download then costs no open, read and close on the thread pool. The bytes under a key
 * never change; a removal through this instance forgets them at once, and nothing is kept longer
 * than AUTH_STATE_TTL_MS, the delay within which a deletion through another instance is seen.
 */
@Injectable()
export class LocalFileStore extends FileStore {
  private readonly logger = new Logger(LocalFileStore.name);
  private readonly root: string;
  private readonly staging: string;
  private readonly resumable: string;
  /** Idle buffers kept for the next downloads: 32 MiB at most. */
  private readonly pool = new BufferPool(READ_BUFFER_BYTES, 32);
  private readonly smallFiles: LRUCache<string, Buffer> | undefined;
  private readonly smallFileMaxBytes: number;
  /**
   * Bytes that may be on their way into memory for the cache at once: a quarter of
   * SMALL_FILE_CACHE_BYTES (or one file of the largest size). Past it, a small file streams as a
   * large one does, so many misses at once cannot each hold a whole file.
   */
  private readonly fillBudget: number;
  private filling = 0;

  constructor(config: AppConfig) {
    super();
    this.root = join(config.storageDir, 'files');
    this.staging = join(config.storageDir, 'tmp');
    this.resumable = join(config.storageDir, 'resumable');
    for (const folder of [this.root, this.staging, this.resumable]) {
      mkdirSync(folder, { recursive: true, mode: FOLDER_MODE });
    }
    const { smallFileBytes, smallFileMaxBytes } = config.caches;
    this.smallFileMaxBytes = Math.min(smallFileMaxBytes, smallFileBytes);
    this.fillBudget = Math.max(this.smallFileMaxBytes, Math.floor(smallFileBytes / 4));
    this.smallFiles =
      this.smallFileMaxBytes > 0
        ? new LRUCache({
            maxSize: smallFileBytes,
            // An empty file still takes an entry.
            sizeCalculation: (bytes) => Math.max(bytes.length, 1),
            ttl: AUTH_STATE_TTL_MS,
          })
        : undefined;
  }

  /**
   * Stages the bytes (never over another file), syncs them, renames them into place (atomic) and
   * fsyncs the folder: then they survive a crash. Owner-only mode (0600).
   */
  async write(key: string, source: Readable): Promise<WrittenBytes> {
    const path = this.pathOf(key);
    const staged = join(this.staging, `${fileIdOf(key)}.part`);
    let file: FileHandle;
    try {
      file = await open(staged, 'wx', 0o600);
    } catch (error) {
      source.destroy(); // as the pipeline would: the source is not left half-read
      throw error;
    }
    const meter = new ByteMeter();
    // A failure of the source reaches the write through `meter`, which it destroys.
    const metering = pipeline(source, meter);
    metering.catch(() => undefined);
    try {
      try {
        await writeDurably(file, meter, { start: 0, flushEvery: FLUSH_EVERY_BYTES });
        await metering;
      } finally {
        await file.close();
      }
      await mkdir(dirname(path), { recursive: true, mode: FOLDER_MODE });
      await rename(staged, path);
      await syncPath(dirname(path));
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
    return meter.result();
  }

  async startResumable(key: string): Promise<ResumableWrite> {
    const file = await open(this.resumablePathOf(key), 'wx', 0o600);
    await file.close();
    await syncPath(this.resumable);
    return { offset: 0, state: '' };
  }

  /** Written as `write` writes, synced at the end of each append. */
  async appendResumable(
    key: string,
    write: ResumableWrite,
    source: AsyncIterable<Buffer>,
    accepted: (chunk: Buffer) => void,
  ): Promise<AppendedBytes> {
    const file = await open(this.resumablePathOf(key), 'r+');
    let offset = write.offset;
    try {
      // Bytes past the saved offset are an earlier append's whose standing was never saved.
      await file.truncate(offset);
      // Accepted once in the write stream's buffer: the append resolves only after the last
      // byte is written and synced, and a failed write fails it.
      await writeDurably(file, source, {
        start: offset,
        flushEvery: APPEND_FLUSH_EVERY_BYTES,
        onChunk: (chunk) => {
          accepted(chunk);
          offset += chunk.length;
        },
      });
    } finally {
      await file.close();
    }
    return { write: { offset, state: '' }, release: () => Promise.resolve() };
  }

  async completeResumable(key: string): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: FOLDER_MODE });
    try {
      await rename(this.resumablePathOf(key), path);
    } catch (error) {
      // Completed before (the registry row failed after): the bytes are in place already.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && (await this.stat(key))) return;
      throw error;
    }
    await syncPath(dirname(path));
  }

  async abortResumable(key: string): Promise<void> {
    await rm(this.resumablePathOf(key), { force: true });
  }

  async read(key: string, range?: ByteRange): Promise<StoredBytes> {
    const cached = this.smallFiles?.get(key);
    if (cached) return rangeOf(cached, range);
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new StoredBytesMissingError(key);
      throw error;
    }
    if (!range || range.end < this.smallFileMaxBytes) {
      const { size, bytes } = await this.readIfSmall(handle);
      if (bytes) {
        this.smallFiles?.set(key, bytes);
        return rangeOf(bytes, range);
      }
      range ??= wholeOf(size);
    }
    if (range.end < range.start) {
      await handle.close();
      return Buffer.alloc(0);
    }
    // The stream owns the handle from here: it closes it when it ends or is destroyed.
    return new RecyclingReadStream(handle, range, this.pool);
  }

  async stat(key: string): Promise<StoredObject | undefined> {
    try {
      const { size, mtime } = await stat(this.pathOf(key));
      return { key, size, modifiedAt: mtime };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async remove(key: string): Promise<void> {
    this.smallFiles?.delete(key);
    await rm(this.pathOf(key), { force: true });
  }

  /**
   * The file's size, and its whole bytes (closing it) when it is small enough to keep and the
   * fill budget has room; otherwise no bytes, and the file stays open for streaming.
   */
  private async readIfSmall(handle: FileHandle): Promise<{ size: number; bytes?: Buffer }> {
    let size: number;
    try {
      ({ size } = await handle.stat());
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
    if (!this.smallFiles || size > this.smallFileMaxBytes) return { size };
    if (this.filling + size > this.fillBudget) return { size };
    this.filling += size;
    try {
      // A buffer of its own, not a slice of Node's shared slab, which it would keep alive.
      const bytes = Buffer.allocUnsafeSlow(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) throw new Error('the stored file shrank while it was read');
        filled += bytesRead;
      }
      await handle.close();
      return { size, bytes };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    } finally {
      this.filling -= size;
    }
  }

  /**
   * Skips, with one warning per listing, files the service did not name (a `.DS_Store`, an rsync
   * leftover): they are not stored bytes, so they are neither keys nor the sweeper's to remove.
   */
  async *list(): AsyncIterable<StoredObject> {
    let strays = 0;
    const examples: string[] = [];
    try {
      for await (const path of walk(this.root)) {
        const key = relative(this.root, path).split(sep).join('/');
        if (!isStorageKey(key)) {
          if (strays++ < 5) examples.push(key);
          continue;
        }
        const found = await stat(path).catch(() => undefined);
        if (found) yield { key, size: found.size, modifiedAt: found.mtime };
      }
    } finally {
      if (strays > 0) {
        this.logger.warn(
          `${strays} file(s) under ${this.root} are not stored files and were left alone ` +
            `(${examples.join(', ')}${strays > examples.length ? ', …' : ''}); remove them by hand`,
        );
      }
    }
  }

  /**
   * Staged files: writes in progress in this process, and those a crash cut short. Anything else
   * in the staging folder (a temp file of an older version) is listed too, under its own name.
   * Then the resumable writes, each under the key it is for.
   */
  async *incompleteWrites(): AsyncIterable<IncompleteWrite> {
    for await (const entry of await opendir(this.resumable)) {
      if (!entry.isFile() || !RESUMABLE_NAME.test(entry.name)) continue;
      const path = join(this.resumable, entry.name);
      const found = await stat(path).catch(() => undefined);
      if (!found) continue;
      yield {
        key: storageKeyOf(entry.name),
        startedAt: found.mtime,
        discard: () => rm(path, { force: true }),
      };
    }
    for await (const entry of await opendir(this.staging)) {
      if (!entry.isFile()) continue;
      const path = join(this.staging, entry.name);
      const found = await stat(path).catch(() => undefined);
      if (!found) continue;
      const id = STAGED_NAME.exec(entry.name)?.[1];
      yield {
        key: id === undefined ? entry.name : storageKeyOf(id),
        // Its last write, later than its start: a write still going on never looks old.
        startedAt: found.mtime,
        discard: () => rm(path, { force: true }),
      };
    }
  }

  /** Uploads can land: a file can be made and removed where writes are staged, and the stored files' folder is there. */
  async check(): Promise<void> {
    await access(this.root);
    const probe = join(this.staging, `health-${randomUUID()}`);
    await writeFile(probe, '', { mode: 0o600 });
    await rm(probe, { force: true });
  }

  private pathOf(key: string): string {
    if (!isStorageKey(key)) throw new Error(`not a storage key: ${key}`);
    return join(this.root, key);
  }

  private resumablePathOf(key: string): string {
    if (!isStorageKey(key)) throw new Error(`not a storage key: ${key}`);
    return join(this.resumable, fileIdOf(key));
  }
}

/** Every byte of a file of `size` bytes. */
function wholeOf(size: number): ByteRange {
  return { start: 0, end: size - 1 };
}

/** `range` of bytes in memory (all of them without one), sharing their memory. */
function rangeOf(bytes: Buffer, range?: ByteRange): Buffer {
  return range ? bytes.subarray(range.start, range.end + 1) : bytes;
}

/**
 * Writes `chunks` into `file` from `start`, up to 1 MiB at a time, starting an fdatasync every
 * `flushEvery` bytes on the way (so the closing one has little left), and syncs the data at the
 * end. `onChunk` sees each chunk as it goes to the write stream. The file stays open.
 */
async function writeDurably(
  file: FileHandle,
  chunks: AsyncIterable<Buffer>,
  options: { start: number; flushEvery: number; onChunk?: (chunk: Buffer) => void },
): Promise<void> {
  const flusher = new BackgroundFlusher(file, options.flushEvery);
  const counted = async function* () {
    for await (const chunk of chunks) {
      options.onChunk?.(chunk);
      flusher.written(chunk.length);
      yield chunk;
    }
  };
  // Not closed by the stream: a flush may still be running when the last write is done.
  const writer = file.createWriteStream({
    start: options.start,
    autoClose: false,
    highWaterMark: WRITE_BUFFER_BYTES,
  });
  try {
    await pipeline(counted, writer);
    await file.datasync();
  } finally {
    await flusher.idle();
    writer.destroy(); // a FileHandle does not close while a stream of it lives
  }
}

/** Starts an fdatasync every `every` bytes, one at a time, while writing goes on. */
class BackgroundFlusher {
  private unflushed = 0;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly file: FileHandle,
    private readonly every: number,
  ) {}

  written(bytes: number): void {
    this.unflushed += bytes;
    if (this.unflushed < this.every || this.flushing) return;
    this.unflushed = 0;
    // Only a head start: a real failure to write surfaces again at the final fsync.
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

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Every file below `dir`, one folder open at a time: memory does not grow with the count. */
async function* walk(dir: string): AsyncIterable<string> {
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
