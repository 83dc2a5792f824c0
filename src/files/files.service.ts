import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { WrittenFile } from '../common/temp-files/digesting-writer.js';
import { TempFiles } from '../common/temp-files/temp-files.service.js';
import { isForeignKeyViolation } from '../database/database-errors.js';
import type { Tables } from '../database/tables.js';
import { FileRegistry, type ListPosition } from './file-registry.js';
import { FileStore, StoredBytesMissingError, type ByteRange } from './storage/file-store.js';
import type { ChunkConsumer } from './storage/recycling-read-stream.js';
import type { StoredFile, Viewer } from './stored-file.js';
import { decideContentType } from './upload/content-type.js';
import { sanitizeFilename } from './upload/filename.js';

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
 * Stored files: committing what a request wrote, finding, listing and deleting them. Who may see
 * what is the registry's rule; where bytes live is the store's.
 */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);
  /** Keys moved into the store whose registry row is not written yet: the sweeper keeps off. */
  private readonly committing = new Set<string>();

  constructor(
    private readonly registry: FileRegistry,
    private readonly store: FileStore,
    private readonly tempFiles: TempFiles,
  ) {}

  /**
   * Makes a temp file of `request` a stored file of `owner`: bytes durable first, then the
   * registry row. A failure at any step leaves neither (the temp file goes with the request).
   */
  async commit(
    request: object,
    owner: Viewer,
    temp: WrittenFile,
    client: ClientFileInfo,
  ): Promise<StoredFile> {
    const id = randomUUID();
    const file: StoredFile = {
      id,
      ownerId: owner.id,
      filename: sanitizeFilename(client.filename),
      contentType: await decideContentType(temp.head, client.declaredType),
      size: temp.size,
      sha256: temp.sha256,
      storageKey: `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`,
      createdAt: new Date(),
    };
    this.committing.add(file.storageKey);
    try {
      await this.store.put(file.storageKey, temp.path).catch(async (error: unknown) => {
        this.logger.error(`the store refused file ${id}: ${String(error)}`);
        await this.store.remove(file.storageKey).catch(() => undefined);
        throw new ServiceUnavailableException('the storage cannot take files right now');
      });
      this.tempFiles.release(request, temp.path);
      await this.registry.insert(file).catch(async (error: unknown) => {
        await this.store.remove(file.storageKey);
        // The owner was deleted while their upload was on its way.
        if (isForeignKeyViolation(error))
          throw new UnauthorizedException('the user no longer exists');
        throw error;
      });
    } finally {
      this.committing.delete(file.storageKey);
    }
    return file;
  }

  isCommitting(key: string): boolean {
    return this.committing.has(key);
  }

  /** @throws NotFoundException when there is no such file, or `viewer` may not see it */
  async get(id: string, viewer: Viewer): Promise<StoredFile> {
    const file = await this.registry.findVisible(id, viewer);
    if (!file) throw new NotFoundException('file not found');
    return file;
  }

  /** For a signed link: any owner's file. */
  async getForLink(id: string): Promise<StoredFile> {
    const file = await this.registry.find(id);
    if (!file) throw new NotFoundException('file not found');
    return file;
  }

  /**
   * The stored bytes of `file` (or of `range`); see `FileStore.read` for `consumer`.
   * @throws NotFoundException, logged, when the registry names bytes the store does not have
   * @throws ServiceUnavailableException, logged, when the store fails
   */
  async openBytes(
    file: StoredFile,
    range?: ByteRange,
    consumer?: ChunkConsumer,
  ): Promise<Readable> {
    try {
      return await this.store.read(
        file.storageKey,
        range ?? { start: 0, end: file.size - 1 },
        consumer,
      );
    } catch (error) {
      if (error instanceof StoredBytesMissingError) {
        this.logger.error(
          `the registry names file ${file.id}, but its bytes are missing from the store`,
        );
        throw new NotFoundException('file not found');
      }
      this.logger.error(`the store cannot read file ${file.id}: ${String(error)}`);
      throw new ServiceUnavailableException('the storage cannot be read right now');
    }
  }

  async list(viewer: Viewer, limit: number, cursor?: string): Promise<FilePage> {
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
  async delete(id: string, viewer: Viewer): Promise<void> {
    const file = await this.registry.deleteVisible(id, viewer);
    if (!file) throw new NotFoundException('file not found');
    await this.removeBytes([file.storageKey]);
  }

  /** Deletes the registry entries of `ownerId` inside `trx`; their bytes go with `removeBytes`. */
  deleteEntriesOwnedBy(trx: Kysely<Tables>, ownerId: string): Promise<string[]> {
    return this.registry.deleteAllOwnedBy(trx, ownerId);
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
  throw new BadRequestException('cursor is malformed');
}
