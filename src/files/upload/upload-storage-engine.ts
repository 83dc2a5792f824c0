import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { TempFiles } from '../../common/temp-files/temp-files.service.js';
import type { WrittenFile } from '../../common/temp-files/digesting-writer.js';

/** What the controller receives for the `file` part: multer's description plus the written file. */
export type UploadedTempFile = Express.Multer.File & WrittenFile;

/**
 * A multer storage engine that streams the part into a temp file of the request, learning its
 * size, SHA-256 and first bytes on the way. Committing it is the files service's business; if
 * that never happens, the request's temp-file cleanup removes it.
 */
export class UploadStorageEngine implements StorageEngine {
  constructor(private readonly tempFiles: TempFiles) {}

  _handleFile(
    req: Request,
    file: Express.Multer.File,
    callback: (error?: unknown, info?: Partial<UploadedTempFile>) => void,
  ): void {
    this.tempFiles.write(req, file.stream, 'upload').then(
      (written) => callback(null, written),
      (error: unknown) => callback(error),
    );
  }

  _removeFile(
    req: Request,
    file: Express.Multer.File,
    callback: (error: Error | null) => void,
  ): void {
    if (!file.path) return callback(null);
    this.tempFiles.remove(req, file.path).then(
      () => callback(null),
      (error: Error) => callback(error),
    );
  }
}
