import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { FilesService, WrittenUpload } from '../files.service.js';

/** What the controller receives for the `file` part: multer's description plus the written upload. */
export type UploadedFilePart = Express.Multer.File & { written: WrittenUpload };

/**
 * A multer storage engine that streams the part straight into the file store, as a pending
 * upload of the request, learning its size, SHA-256 and first bytes on the way. Committing it is
 * the controller's next step; if that never happens (a refused part, an error, a client gone),
 * the upload is discarded when the response closes.
 */
export class UploadStorageEngine implements StorageEngine {
  constructor(private readonly files: FilesService) {}

  _handleFile(
    req: Request,
    file: Express.Multer.File,
    callback: (error?: unknown, info?: Partial<UploadedFilePart>) => void,
  ): void {
    this.receive(req, file).then(
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

  private async receive(req: Request, file: Express.Multer.File): Promise<WrittenUpload> {
    const upload = await this.files.beginUpload();
    // Once the response is over, an upload the request did not commit goes.
    const response = req.res!;
    if (response.closed) void upload.discard();
    else response.once('close', () => void upload.discard());
    return this.files.write(upload, file.stream);
  }
}
