import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { parseLifetime } from '../file-lifetimes.js';
import type { FilesService } from '../files.service.js';
import { receiveUpload, type UploadedFilePart } from './received-upload.js';

/**
 * A multer storage engine that streams the `file` part straight into the file store, as a pending
 * upload `BeginUploadInterceptor` began for the request (see `receiveUpload`). An `expiresIn`
 * field sent before the part is in `req.body` by then: a lifetime the file may not have is refused
 * before a byte is stored.
 */
export class UploadStorageEngine implements StorageEngine {
  constructor(private readonly files: FilesService) {}

  _handleFile(
    req: Request,
    file: Express.Multer.File,
    callback: (error?: unknown, info?: Partial<UploadedFilePart>) => void,
  ): void {
    let expiresIn: number | undefined;
    try {
      expiresIn = parseLifetime((req.body as Record<string, unknown> | undefined)?.expiresIn);
      this.files.checkLifetime(expiresIn);
    } catch (error) {
      return callback(error);
    }
    receiveUpload(this.files, req, file.stream).then(
      (written) => callback(null, { written, size: written.size, expiresIn }),
      (error: unknown) => callback(error),
    );
  }

  _removeFile(
    _req: Request,
    file: Partial<UploadedFilePart>,
    callback: (error: Error | null) => void,
  ): void {
    if (!file.written) return callback(null);
    file.written.upload.discard().then(() => callback(null), callback);
  }
}
