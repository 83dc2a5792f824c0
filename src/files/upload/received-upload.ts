import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FilesService, WrittenUpload } from '../files.service.js';

/**
 * What the controller receives of an uploaded file, however it came (a multipart part, the whole
 * request body): what the client said of it, unchecked, and the written upload.
 */
export interface UploadedFilePart {
  /** The client's name for the file; undefined when it gave none. */
  originalname: string | undefined;
  /** The media type the client declared for it. */
  mimetype: string | undefined;
  size: number;
  written: WrittenUpload;
  /** The lifetime sent as a multipart field before the file part, checked before its bytes. */
  expiresIn?: number;
}

/**
 * Streams `source` into the store as a new pending upload of the request answered by `response`,
 * learning its size, SHA-256 and first bytes on the way. Committing it is the controller's next
 * step; if that never happens (a refused request, an error, a client gone), the upload is
 * discarded when the response closes.
 */
export async function receiveUpload(
  files: FilesService,
  response: ServerResponse,
  source: Readable,
): Promise<WrittenUpload> {
  const upload = await files.beginUpload();
  if (response.closed) void upload.discard();
  else response.once('close', () => void upload.discard());
  return files.write(upload, source);
}
