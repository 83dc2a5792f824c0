import { mkdirSync } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { AppConfig } from '../../config/app-config.js';
import { AUTH_STATE_TTL_MS } from '../../common/cached-state.js';
import { ByteRange, FileStore, StoredBytesMissingError } from './file-store.js';
import { BufferPool, RecyclingReadStream, type ChunkConsumer } from './recycling-read-stream.js';

/** 1 MiB reads: measured with plain Node on loopback, 64 KiB reads send a third as fast. */
const READ_BUFFER_BYTES = 1024 * 1024;

/** Owner only: stored files are their uploaders' business, not other accounts' on the machine. */
const FOLDER_MODE = 0o700;

/** `ab/cd/<uuid>`: the only names the service gives stored bytes. */
const STORAGE_KEY = /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/;

function isStorageKey(key: string): boolean {
  return STORAGE_KEY.test(key);
}

/**
 * Stored bytes on local disk, under STORAGE_DIR/files/<key>. Keys are made by the service
 * (sharded by UUID: `ab/cd/abcd…`), never by a client, and are checked to stay inside the folder.
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
  /** Idle buffers kept for the next downloads: 32 MiB at most. */
  private readonly pool = new BufferPool(READ_BUFFER_BYTES, 32);
  private readonly smallFiles: LRUCache<string, Buffer> | undefined;
  private readonly smallFileMaxBytes: number;

  constructor(config: AppConfig) {
    super();
    this.root = join(config.storageDir, 'files');
    mkdirSync(this.root, { recursive: true, mode: FOLDER_MODE });
    const { smallFileBytes, smallFileMaxBytes } = config.caches;
    this.smallFileMaxBytes = Math.min(smallFileMaxBytes, smallFileBytes);
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
   * fsync the bytes, rename them into place (atomic), fsync the folder: then they survive a crash.
   * The file keeps the temp file's owner-only mode.
   */
  async put(key: string, tempPath: string): Promise<void> {
    const path = this.pathOf(key);
    await syncPath(tempPath);
    await mkdir(dirname(path), { recursive: true, mode: FOLDER_MODE });
    await rename(tempPath, path);
    await syncPath(dirname(path));
  }

  async read(key: string, range: ByteRange, consumer?: ChunkConsumer): Promise<Readable> {
    const cached = this.smallFiles?.get(key);
    if (cached) return readableOf(cached, range);
    let handle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new StoredBytesMissingError(key);
      throw error;
    }
    if (range.end < this.smallFileMaxBytes) {
      const bytes = await this.readSmallFile(handle);
      if (bytes) {
        this.smallFiles!.set(key, bytes);
        return readableOf(bytes, range);
      }
    }
    if (range.end < range.start) {
      await handle.close();
      return Readable.from([]);
    }
    // The stream owns the handle from here: it closes it when it ends or is destroyed.
    if (consumer) return new RecyclingReadStream(handle, range, this.pool, consumer);
    const length = range.end - range.start + 1;
    return handle.createReadStream({ ...range, highWaterMark: Math.min(length, READ_BUFFER_BYTES) });
  }

  async remove(key: string): Promise<void> {
    this.smallFiles?.delete(key);
    await rm(this.pathOf(key), { force: true });
  }

  /**
   * The whole file, closing it, when it is small enough to keep; otherwise undefined, and the
   * file stays open for streaming.
   */
  private async readSmallFile(handle: FileHandle): Promise<Buffer | undefined> {
    try {
      const { size } = await handle.stat();
      if (size > this.smallFileMaxBytes) return undefined;
      // A buffer of its own, not a slice of Node's shared slab, which it would keep alive.
      const bytes = Buffer.allocUnsafeSlow(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) throw new Error('the stored file shrank while it was read');
        filled += bytesRead;
      }
      await handle.close();
      return bytes;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Skips, with one warning per listing, files the service did not name (a `.DS_Store`, an rsync
   * leftover): they are not stored bytes, so they are neither keys nor the sweeper's to remove.
   */
  async *keys(): AsyncIterable<{ key: string; modifiedAt: Date }> {
    let strays = 0;
    const examples: string[] = [];
    try {
      for await (const path of walk(this.root)) {
        const key = relative(this.root, path).split(sep).join('/');
        if (!isStorageKey(key)) {
          if (strays++ < 5) examples.push(key);
          continue;
        }
        const { mtime } = await stat(path).catch(() => ({ mtime: undefined }));
        if (mtime) yield { key, modifiedAt: mtime };
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

  private pathOf(key: string): string {
    if (!isStorageKey(key)) throw new Error(`not a storage key: ${key}`);
    return join(this.root, key);
  }
}

/** `range` of bytes in memory, as the one chunk of a stream. */
function readableOf(bytes: Buffer, range: ByteRange): Readable {
  const stream = new Readable({ read: () => undefined });
  if (range.end >= range.start) stream.push(bytes.subarray(range.start, range.end + 1));
  stream.push(null);
  return stream;
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
