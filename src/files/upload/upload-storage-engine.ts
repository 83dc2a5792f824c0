import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { FilesService } from '../files.service.js';
import { receiveUpload, type UploadedFilePart } from './received-upload.js';

/**
 * A multer storage engine that streams the `file` part straight into the file store, as a pending
 * upload `BeginUploadInterceptor` began for the request (see `receiveUpload`).
 */
export class UploadStorageEngine implements StorageEngine {
  constructor(private readonly files: FilesService) {}

  _handleFile(
    req: Request,
    file: Express.Multer.File,
    callback: (error?: unknown, info?: Partial<UploadedFilePart>) => void,
  ): void {
    receiveUpload(this.files, req, file.stream).then(
      (written) => callback(null, { written, size: written.size }),
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
