import { createHash, randomUUID } from 'node:crypto';
import type { AuditScene } from '../../audit/audit-scene.js';
import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import type { Caller } from '../../common/caller.js';
import {
  ChecksumMismatchError,
  ConflictError,
  ExpiredError,
  LockedError,
  NotFoundError,
  StorageUnavailableError,
  TooLargeError,
} from '../../common/domain-errors.js';
import { FilesService } from '../files.service.js';
import { UserQuotas } from '../../quotas/user-quotas.js';
import { HeadBytes } from '../storage/byte-meter.js';
import { FileStore, type ResumableWrite } from '../storage/file-store.js';
import { storageKeyOf } from '../storage/storage-key.js';
import { ResumableUploadRepository, type ResumableUpload } from './resumable-upload-repository.js';
import { ResumableSha256 } from './resumable-sha256.js';

/** How long an append's lock lasts unrenewed: what a crashed instance's appends block. */
const LOCK_MS = 20_000;

/** Uploads the sweeper looks at per pass. */
const SWEEP_BATCH = 100;

/** Where an upload stands, as its client may learn it. */
export interface UploadStatus {
  id: string;
  length: number;
  offset: number;
  filename: string | undefined;
  filetype: string | undefined;
  /** Seconds the file is to live from the upload's completion, as asked for at its creation. */
  fileExpiresIn: number | undefined;
  expiresAt: Date;
  /** The stored file's id once the upload is complete (the upload's own id). */
  fileId: string | undefined;
}

/** The checksum a client sent with an append, of that append's bytes. */
export interface AppendChecksum {
  algorithm: 'sha256';
  digest: Buffer;
}

/** What the client said of an append's bytes. */
export interface AppendOptions {
  checksum?: AppendChecksum;
  /** How many bytes it says it sends, when it says: too many are refused before any is read. */
  declaredLength?: number;
}

/**
 * Resumable uploads (tus): a file sent over as many requests as it takes, each appending where
 * the last one stopped, on any instance. The state lives in the shared database
 * (`ResumableUploadRepository`), the bytes in the store's resumable writes, and the SHA-256 of
 * the bytes so far as a saved hash state, so that no byte is ever read twice. Once the last byte
 * is in, the upload becomes a stored file through `FilesService`, under the upload's id.
 */
@Injectable()
export class ResumableUploads {
  private readonly logger = new Logger(ResumableUploads.name);
  private appending = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly uploads: ResumableUploadRepository,
    private readonly store: FileStore,
    private readonly files: FilesService,
    private readonly quotas: UserQuotas,
  ) {}

  /**
   * A new upload of `length` bytes owned by `owner`. The file it becomes lives `expiresIn`
   * seconds from its completion, or its owner's default lifetime then. `scene` is where it becomes
   * a file, for the audit trail, as for `append` and `status`.
   * @throws TooLargeError when `length` passes MAX_UPLOAD_BYTES
   * @throws InvalidInputError when `expiresIn` is over MAX_FILE_TTL_SECONDS
   * @throws QuotaExceededError when `length` does not fit the owner's quota: nothing is kept
   */
  async create(
    owner: Caller,
    length: number,
    metadata: { filename?: string; filetype?: string; expiresIn?: number },
    scene: AuditScene,
  ): Promise<UploadStatus> {
    const maxBytes = this.config.uploads.maxBytes;
    if (length > maxBytes) {
      throw new TooLargeError(`the upload is larger than the limit of ${maxBytes} bytes`);
    }
    this.files.checkLifetime(metadata.expiresIn);
    const id = randomUUID();
    const storageKey = storageKeyOf(id);
    const write = await this.storing(`begin upload ${id}`, () =>
      this.store.startResumable(storageKey, length),
    );
    const now = Date.now();
    const upload: ResumableUpload = {
      id,
      ownerId: owner.id,
      storageKey,
      length,
      offset: 0,
      filename: metadata.filename,
      filetype: metadata.filetype,
      storeState: write.state,
      hashState: ResumableSha256.fresh().save(),
      head: Buffer.alloc(0),
      createdAt: new Date(now),
      expiresAt: new Date(now + this.config.uploads.expiryMs),
      completedAt: undefined,
      fileExpiresIn: metadata.expiresIn,
    };
    try {
      // Until it completes (then its file counts) or expires, it holds its length of the quota.
      await this.uploads.insert(upload, (trx) =>
        this.quotas.claim(trx, owner.id, { bytes: length, files: 1 }),
      );
    } catch (error) {
      await this.store.abortResumable(storageKey, write).catch(() => undefined);
      throw error;
    }
    if (length === 0)
      return this.underLock(upload, (holder) => this.complete(upload, holder, scene));
    return statusOf(upload);
  }

  /**
   * Where upload `id` stands. One whose last byte is in but whose commit failed is committed now.
   * @throws NotFoundError when there is none that `caller` owns, or its file was deleted since
   * @throws ExpiredError when it expired unfinished
   */
  async status(id: string, caller: Caller, scene: AuditScene): Promise<UploadStatus> {
    const upload = await this.findOwn(id, caller);
    if (upload.completedAt) {
      await this.files.get(upload.id, caller); // deleted since: the upload is gone with it
    } else if (upload.offset === upload.length) {
      // Its last append ended, and its commit did not (or is running now: then 423, and the
      // client asks again rather than take an offset without the file's id).
      return this.underLock(upload, async (holder) => {
        const current = await this.findOwn(id, caller);
        return current.completedAt ? statusOf(current) : this.complete(current, holder, scene);
      });
    }
    return statusOf(upload);
  }

  /**
   * Appends `source` to upload `id` at `offset`, which must be where it stands. What arrives is
   * kept even when the source stops early (a dropped connection): the client asks for the offset
   * and goes on from there. With a checksum, the append is kept whole or not at all.
   * @throws ConflictError when `offset` is not where the upload stands
   * @throws LockedError when another append to it is running
   * @throws TooLargeError when the bytes go past the upload's length (nothing of them is kept)
   * @throws ChecksumMismatchError when the bytes do not match `checksum` (nothing is kept)
   */
  async append(
    id: string,
    caller: Caller,
    scene: AuditScene,
    offset: number,
    source: Readable,
    options: AppendOptions = {},
  ): Promise<UploadStatus> {
    this.appending++;
    try {
      return await this.appendCounted(id, caller, scene, offset, source, options);
    } finally {
      this.appending--;
    }
  }

  /** Appends running in this process now (their requests' bodies on their way). */
  get appendsInProgress(): number {
    return this.appending;
  }

  private async appendCounted(
    id: string,
    caller: Caller,
    scene: AuditScene,
    offset: number,
    source: Readable,
    { checksum, declaredLength }: AppendOptions,
  ): Promise<UploadStatus> {
    const found = await this.findOwn(id, caller);
    if (offset !== found.offset) {
      throw new ConflictError(`the upload is at offset ${found.offset}, not ${offset}`);
    }
    if (declaredLength !== undefined && offset + declaredLength > found.length) {
      throw new TooLargeError(`the upload is ${found.length} bytes long: this goes past it`);
    }
    return this.underLock(found, async (holder, lockLost) => {
      // Read again under the lock: an append that ended meanwhile moved it.
      const upload = await this.findOwn(id, caller);
      if (offset !== upload.offset) {
        throw new ConflictError(`the upload is at offset ${upload.offset}, not ${offset}`);
      }
      if (upload.completedAt) return statusOf(upload);
      const hasher = ResumableSha256.load(upload.hashState);
      const head = new HeadBytes(upload.head);
      // Saved while they grow only: past HEAD_BYTES they no longer change.
      const headGrows = !head.full;
      const appendHash = checksum && createHash('sha256');
      const body = new BoundedSource(source, upload.length - upload.offset);
      // Another append may have the upload now: not a byte more from this one.
      lockLost.addEventListener('abort', () => source.destroy(new Error('the lock was lost')));
      const appended = await this.storing(`append to upload ${id}`, () =>
        this.store.appendResumable(upload.storageKey, writeOf(upload), body.chunks(), (chunk) => {
          hasher.update(chunk);
          head.add(chunk);
          appendHash?.update(chunk);
        }),
      );
      // Not saved, so not kept: the next append starts from the saved standing again.
      if (body.overflowed) {
        throw new TooLargeError(`the upload is ${upload.length} bytes long: this goes past it`);
      }
      if (appendHash && (body.interrupted || !appendHash.digest().equals(checksum.digest))) {
        throw new ChecksumMismatchError('the bytes sent do not match their Upload-Checksum');
      }
      const progressed: ResumableUpload = {
        ...upload,
        offset: appended.write.offset,
        storeState: appended.write.state,
        hashState: hasher.save(),
        head: head.bytes(),
        expiresAt: new Date(Date.now() + this.config.uploads.expiryMs),
      };
      // A finished upload keeps its lock for the commit; any other gives it up as it saves.
      const finished = progressed.offset === progressed.length;
      const saved = await this.uploads.saveProgress(
        id,
        holder,
        upload.offset,
        { ...progressed, head: headGrows ? progressed.head : undefined },
        { unlock: !finished },
      );
      if (!saved) {
        throw new ConflictError('another request took the upload over: ask for its offset again');
      }
      await appended.release().catch((error: unknown) => {
        this.logger.warn(`could not tidy after an append to upload ${id}: ${String(error)}`);
      });
      if (finished) return this.complete(progressed, holder, scene);
      return statusOf(progressed);
    });
  }

  /**
   * Ends upload `id`: an unfinished one's bytes go; a finished one's file stays (delete it as a
   * file), only the upload is forgotten.
   */
  async terminate(id: string, caller: Caller): Promise<void> {
    const upload = await this.findOwn(id, caller, { evenExpired: true });
    await this.underLock(upload, async () => {
      if (!upload.completedAt) await this.abort(upload);
      await this.uploads.remove(id);
    });
  }

  /**
   * Forgets expired uploads: an unfinished one's bytes go with it. Returns how many went; what
   * cannot go now is tried again next time.
   */
  async sweepExpired(): Promise<number> {
    let removed = 0;
    for (const upload of await this.uploads.expired(Date.now(), SWEEP_BATCH)) {
      try {
        if (!upload.completedAt) await this.abort(upload);
        await this.uploads.remove(upload.id);
        removed++;
      } catch (error) {
        this.logger.warn(`could not remove expired upload ${upload.id}: ${String(error)}`);
      }
    }
    return removed;
  }

  /** The last byte is in: the bytes become the file's, and the registry row goes in. */
  private async complete(
    upload: ResumableUpload,
    holder: string,
    scene: AuditScene,
  ): Promise<UploadStatus> {
    const hasher = ResumableSha256.load(upload.hashState);
    await this.storing(`complete upload ${upload.id}`, () =>
      this.store.completeResumable(upload.storageKey, writeOf(upload)),
    );
    await this.files.commitResumable(
      upload,
      { size: upload.length, sha256: hasher.hex(), head: upload.head },
      { filename: upload.filename, declaredType: upload.filetype },
      holder,
      scene,
      upload.fileExpiresIn,
    );
    return { ...statusOf(upload), fileId: upload.id };
  }

  private async abort(upload: ResumableUpload): Promise<void> {
    await this.store.abortResumable(upload.storageKey, writeOf(upload));
  }

  /**
   * Runs `work` holding the upload's lock, renewed meanwhile; someone else holding it: 423. Should
   * a renewal find the lock gone (it expired: the database was out of reach for LOCK_MS), `work`
   * is told through `lockLost`, and whatever it saves after is refused.
   */
  private async underLock<T>(
    upload: ResumableUpload,
    work: (holder: string, lockLost: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const holder = randomUUID();
    if (!(await this.uploads.lock(upload.id, holder, Date.now() + LOCK_MS))) {
      throw new LockedError('another request is writing this upload: try again shortly');
    }
    const lost = new AbortController();
    const renewal = setInterval(() => {
      this.uploads.renew(upload.id, holder, Date.now() + LOCK_MS).then(
        (held) => held || lost.abort(),
        () => undefined, // the database did not answer: the next renewal tries again
      );
    }, LOCK_MS / 4);
    try {
      return await work(holder, lost.signal);
    } finally {
      clearInterval(renewal);
      await this.uploads.unlock(upload.id, holder).catch(() => undefined);
    }
  }

  private async findOwn(
    id: string,
    caller: Caller,
    { evenExpired = false } = {},
  ): Promise<ResumableUpload> {
    const upload = await this.uploads.find(id);
    if (!upload || upload.ownerId !== caller.id) throw new NotFoundError('upload not found');
    if (!evenExpired && upload.expiresAt.getTime() <= Date.now() && !upload.completedAt) {
      throw new ExpiredError('the upload expired unfinished: start it again');
    }
    return upload;
  }

  /** The store's failures, logged, as StorageUnavailableError. */
  private async storing<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      this.logger.error(`the store failed to ${what}: ${String(error)}`);
      throw new StorageUnavailableError('the storage cannot take files right now');
    }
  }
}

/** The store's write of `upload`, as its saved standing says. */
function writeOf(upload: ResumableUpload): ResumableWrite {
  return { offset: upload.offset, state: upload.storeState };
}

function statusOf(upload: ResumableUpload): UploadStatus {
  return {
    id: upload.id,
    length: upload.length,
    offset: upload.offset,
    filename: upload.filename,
    filetype: upload.filetype,
    fileExpiresIn: upload.fileExpiresIn,
    expiresAt: upload.expiresAt,
    fileId: upload.completedAt ? upload.id : undefined,
  };
}

/**
 * An append's bytes as the store takes them: at most `room` of them, and an end rather than an
 * error when the request stops early (what arrived is kept). Notes which of the two happened.
 */
class BoundedSource {
  interrupted = false;
  overflowed = false;

  constructor(
    private readonly source: Readable,
    private readonly room: number,
  ) {}

  async *chunks(): AsyncIterable<Buffer> {
    let left = this.room;
    try {
      for await (const chunk of this.source as AsyncIterable<Buffer>) {
        if (chunk.length > left) {
          this.overflowed = true;
          return;
        }
        left -= chunk.length;
        yield chunk;
      }
    } catch {
      this.interrupted = true;
    }
  }
}
