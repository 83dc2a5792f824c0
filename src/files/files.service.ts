import { Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  StorageUnavailableError,
  UnauthenticatedError,
} from '../common/domain-errors.js';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { AuditScene } from '../audit/audit-scene.js';
import { isForeignKeyViolation } from '../database/database-errors.js';
import type { Tables } from '../database/tables.js';
import { FileLifetimes } from './file-lifetimes.js';
import {
  FileRegistry,
  PendingMarkLostError,
  UploadLockLostError,
  type ListPosition,
} from './file-registry.js';
import {
  FileStore,
  StoredBytesMissingError,
  type ByteRange,
  type PresignOptions,
  type StoredBytes,
  type WrittenBytes,
} from './storage/file-store.js';
import type { StoredFile } from './stored-file.js';
import type { Caller } from '../common/caller.js';
import { decideContentType } from './upload/content-type.js';
import { sanitizeFilename } from './upload/filename.js';
import { PendingUpload } from './upload/pending-upload.js';
import { PendingUploads } from './upload/pending-uploads.js';

/** Files whose registry entries an account's deletion took, for their bytes to go next. */
export type DeletedFiles = readonly { readonly id: string; readonly storageKey: string }[];

export interface FilePage {
  items: StoredFile[];
  nextCursor: string | null;
}

/** What the client said of a file it sends: its name and declared type, both to be checked. */
export interface ClientFileInfo {
  filename: string | undefined;
  declaredType: string | undefined;
}

/**
 * Stored files: receiving, committing, finding, listing and deleting them. Who may see what is
 * the registry's rule; where bytes live is the store's.
 */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);

  constructor(
    private readonly registry: FileRegistry,
    private readonly store: FileStore,
    private readonly pendingUploads: PendingUploads,
    private readonly lifetimes: FileLifetimes,
    private readonly audit: AuditRecorder,
  ) {}

  /**
   * A new upload of `owner`, marked pending in the shared database before its first byte is
   * written, holding one file and `announcedBytes` (0 when unknown) of their quota. Its holder
   * writes it, then commits or discards it.
   * @throws QuotaExceededError when that does not fit the owner's quota: nothing is marked
   */
  async beginUpload(owner: Caller, announcedBytes = 0): Promise<PendingUpload> {
    const upload = new PendingUpload(this.store, this.pendingUploads);
    await this.pendingUploads.mark(upload.storageKey, owner.id, announcedBytes);
    return upload;
  }

  /**
   * Writes `source` into `upload`. A store that fails is a StorageUnavailableError (logged); a
   * source that fails (the client went away) rejects with its own error.
   */
  async write(upload: PendingUpload, source: Readable): Promise<WrittenUpload> {
    try {
      return { upload, ...(await upload.write(source)) };
    } catch (error) {
      if (!isStorageFailure(error)) throw error;
      this.logger.error(`the store refused the upload ${upload.id}: ${String(error)}`);
      throw new StorageUnavailableError('the storage cannot take files right now');
    }
  }

  /**
   * Refuses a lifetime a file may not be given, before its upload begins.
   * @throws InvalidInputError when `expiresIn` is over MAX_FILE_TTL_SECONDS
   */
  checkLifetime(expiresIn: number | undefined): void {
    this.lifetimes.checkRequested(expiresIn);
  }

  /**
   * Makes a written upload a stored file of `owner`: type from its bytes, sanitised name, registry
   * row, expiry (`expiresIn` seconds from now, else the owner's default). A failure discards it.
   * @throws QuotaExceededError when the file is larger than it announced and does not fit
   * @throws UnauthenticatedError when the owner was deleted while the upload was on its way
   * @throws InvalidInputError when `expiresIn` is over MAX_FILE_TTL_SECONDS
   */
  async commit(
    written: WrittenUpload,
    owner: Caller,
    client: ClientFileInfo,
    scene: AuditScene,
    expiresIn?: number,
  ): Promise<StoredFile> {
    const file = await this.register(written, owner, client, expiresIn);
    this.audit.record(
      { action: 'file.uploaded', fileId: file.id, details: uploadDetails(file) },
      scene,
    );
    return file;
  }

  /** `commit` without its audit event: for files that are not uploads (a blur's result). */
  private async register(
    written: WrittenUpload,
    owner: Caller,
    client: ClientFileInfo,
    expiresIn?: number,
  ): Promise<StoredFile> {
    const { upload } = written;
    upload.beginCommit();
    try {
      this.lifetimes.checkRequested(expiresIn);
      const file = await this.describeFile(upload, owner.id, written, client, expiresIn);
      await this.registry.insertFromPending(file);
      upload.committed();
      return file;
    } catch (error) {
      await upload.commitFailed();
      if (isForeignKeyViolation(error)) throw new UnauthenticatedError('the user no longer exists');
      if (error instanceof PendingMarkLostError) {
        this.logger.error(`upload ${upload.id} was swept as abandoned before its commit`);
        throw new StorageUnavailableError('the upload could not be committed: send it again');
      }
      throw error;
    }
  }

  /**
   * Makes the finished resumable upload `upload`, which `holder` has locked, a stored file of its
   * owner: the same checks and row as `commit`, and the upload is marked completed. Its lifetime,
   * checked when the upload was created, counts from now.
   * @throws ConflictError when the lock passed to someone else meanwhile
   */
  async commitResumable(
    upload: { id: string; storageKey: string; ownerId: string },
    written: WrittenBytes,
    client: ClientFileInfo,
    holder: string,
    scene: AuditScene,
    expiresIn?: number,
  ): Promise<StoredFile> {
    const file = await this.describeFile(upload, upload.ownerId, written, client, expiresIn);
    try {
      await this.registry.insertFromResumable(file, holder);
      this.audit.record(
        {
          action: 'file.uploaded',
          fileId: file.id,
          details: { ...uploadDetails(file), resumable: true },
        },
        scene,
      );
      return file;
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new UnauthenticatedError('the user no longer exists');
      if (error instanceof UploadLockLostError) {
        throw new ConflictError('another request took the upload over: ask for its offset again');
      }
      throw error;
    }
  }

  /**
   * `source` (of `size` bytes, when known) as a new stored file of `owner`, in one go (what the
   * image blur makes), with the owner's default lifetime. Not audited as an upload: the blur
   * records its own event.
   * @throws QuotaExceededError when it does not fit the owner's quota: nothing is kept
   */
  async storeNew(
    owner: Caller,
    source: Readable,
    client: ClientFileInfo,
    size?: number,
  ): Promise<StoredFile> {
    const upload = await this.beginUpload(owner, size);
    try {
      return await this.register(await this.write(upload, source), owner, client);
    } finally {
      await upload.discard(); // nothing, once committed
    }
  }

  /** @throws NotFoundError when there is no such file, or `viewer` may not see it */
  async get(id: string, viewer: Caller): Promise<StoredFile> {
    const file = await this.registry.findVisible(id, viewer);
    if (!file) throw new NotFoundError('file not found');
    return file;
  }

  /** For a signed link: any owner's file. */
  async getForLink(id: string): Promise<StoredFile> {
    const file = await this.registry.find(id);
    if (!file) throw new NotFoundError('file not found');
    return file;
  }

  /**
   * The stored bytes of `file` (or of `range`): in memory when the store keeps them there, else a
   * stream. A whole file is read as such, not as the range of all its bytes: S3 serves an
   * unranged GET for less CPU, on its side and ours.
   * @throws NotFoundError, logged, when the registry names bytes the store does not have
   * @throws StorageUnavailableError, logged, when the store fails
   */
  async openBytes(file: StoredFile, range?: ByteRange): Promise<StoredBytes> {
    try {
      return await this.store.read(file.storageKey, range);
    } catch (error) {
      if (error instanceof StoredBytesMissingError) {
        this.logger.error(
          `the registry names file ${file.id}, but its bytes are missing from the store`,
        );
        throw new NotFoundError('file not found');
      }
      this.logger.error(`the store cannot read file ${file.id}: ${String(error)}`);
      throw new StorageUnavailableError('the storage cannot be read right now');
    }
  }

  /**
   * A URL that fetches `file` straight from the store, or undefined when the store has none.
   * @throws StorageUnavailableError, logged, when the store fails
   */
  async presignedUrl(file: StoredFile, options: PresignOptions): Promise<string | undefined> {
    try {
      return await this.store.presignedUrl(file.storageKey, options);
    } catch (error) {
      this.logger.error(`the store cannot presign file ${file.id}: ${String(error)}`);
      throw new StorageUnavailableError('the storage cannot be read right now');
    }
  }

  async list(viewer: Caller, limit: number, cursor?: string): Promise<FilePage> {
    const rows = await this.registry.list(
      viewer,
      limit + 1,
      cursor === undefined ? undefined : decodeCursor(cursor),
    );
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return {
      items,
      nextCursor:
        rows.length > limit && last
          ? encodeCursor({ createdAt: last.createdAt.getTime(), id: last.id })
          : null,
    };
  }

  /** The registry entry goes first; bytes that cannot be removed are left to the sweeper. */
  async delete(id: string, viewer: Caller, scene: AuditScene): Promise<void> {
    const file = await this.registry.deleteVisible(id, viewer);
    if (!file) throw new NotFoundError('file not found');
    this.audit.record(
      { action: 'file.deleted', fileId: id, details: { ownerId: file.ownerId } },
      scene,
    );
    await this.removeBytes([file.storageKey]);
  }

  /**
   * Deletes the registry entries of `ownerId` inside `trx`; once it commits, `removeFilesOf`
   * records their deletions and removes their bytes.
   */
  deleteEntriesOwnedBy(trx: Kysely<Tables>, ownerId: string): Promise<DeletedFiles> {
    return this.registry.deleteAllOwnedBy(trx, ownerId);
  }

  /**
   * After `deleteEntriesOwnedBy` committed: one `file.deleted` event for each file, as a delete of
   * its own would leave, then its bytes (those that cannot be removed are left to the sweeper).
   */
  async removeFilesOf(ownerId: string, files: DeletedFiles, scene: AuditScene): Promise<void> {
    for (const file of files) {
      this.audit.record(
        { action: 'file.deleted', fileId: file.id, details: { ownerId, withAccount: true } },
        scene,
      );
    }
    await this.removeBytes(files.map((file) => file.storageKey));
  }

  /**
   * The registry row of bytes stored under `upload.storageKey`: type from the bytes, safe name,
   * expiry.
   */
  private async describeFile(
    upload: { id: string; storageKey: string },
    ownerId: string,
    written: WrittenBytes,
    client: ClientFileInfo,
    expiresIn: number | undefined,
  ): Promise<StoredFile> {
    const createdAt = new Date();
    return {
      id: upload.id,
      ownerId,
      filename: sanitizeFilename(client.filename),
      contentType: await decideContentType(written.head, client.declaredType),
      size: written.size,
      sha256: written.sha256,
      storageKey: upload.storageKey,
      createdAt,
      expiresAt: await this.lifetimes.expiresAt(ownerId, expiresIn, createdAt),
    };
  }

  async removeBytes(keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.store.remove(key).catch((error: unknown) => {
        this.logger.warn(
          `could not remove the stored bytes ${key} (${String(error)}): left to the sweeper`,
        );
      });
    }
  }
}

function uploadDetails(file: StoredFile): Record<string, unknown> {
  return { filename: file.filename, size: file.size, ownerId: file.ownerId };
}

/** An upload whose bytes are in the store, with what was learnt of them on the way. */
export interface WrittenUpload extends WrittenBytes {
  upload: PendingUpload;
}

/**
 * Errors of the store rather than of the source: the SDK's answers from S3 (they carry
 * `$metadata`), and the system errors of a disk or a network that the store could not get past.
 */
function isStorageFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if ('$metadata' in error) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && STORAGE_ERROR_CODES.has(code);
}

const STORAGE_ERROR_CODES = new Set([
  'ENOSPC',
  'EDQUOT',
  'EIO',
  'EROFS',
  'EACCES',
  'EPERM',
  'ENOENT',
  'ENOTDIR',
  'EEXIST',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);

function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): ListPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (Number.isSafeInteger(createdAt) && typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id)) {
      return { createdAt: createdAt as number, id };
    }
  } catch {
    // falls through to the 400 below
  }
  throw new InvalidInputError('cursor is malformed');
}
