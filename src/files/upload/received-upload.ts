import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Caller } from '../../common/caller.js';
import type { FilesService, WrittenUpload } from '../files.service.js';
import type { PendingUpload } from './pending-upload.js';

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

/** The upload each request with a body has begun (`beginRequestUpload`). */
const uploadsOfRequests = new WeakMap<IncomingMessage, PendingUpload>();

/**
 * Begins the pending upload of `request`, for `owner`, before a byte of its body is read. It
 * claims the bytes the body announces (`Content-Length`, a bound of a multipart part's size too),
 * at most `maxBytes` (no file may be larger): a body that would not fit its owner's quota is
 * refused before any of it is stored. If the upload is never committed (a refused request, an
 * error, a client gone), it is discarded when the response closes.
 * @throws QuotaExceededError when the announced bytes do not fit
 */
export async function beginRequestUpload(
  files: FilesService,
  owner: Caller,
  request: IncomingMessage,
  response: ServerResponse,
  maxBytes: number,
): Promise<void> {
  // Node's parser has checked that it is a number.
  const announced = Math.min(Number(request.headers['content-length'] ?? 0), maxBytes);
  const upload = await files.beginUpload(owner, announced);
  uploadsOfRequests.set(request, upload);
  if (response.closed) void upload.discard();
  else response.once('close', () => void upload.discard());
}

/**
 * Discards what the upload of `request` left (nothing once it is committed): before a refusal is
 * answered, so that the answer finds nothing of it left.
 */
export async function discardRequestUpload(request: IncomingMessage): Promise<void> {
  await uploadsOfRequests.get(request)?.discard();
}

/**
 * Streams `source` into the store as the pending upload `request` began, learning its size,
 * SHA-256 and first bytes on the way. Committing it is the controller's next step.
 */
export async function receiveUpload(
  files: FilesService,
  request: IncomingMessage,
  source: Readable,
): Promise<WrittenUpload> {
  const upload = uploadsOfRequests.get(request);
  if (!upload) {
    source.destroy();
    throw new Error('an upload is received only after beginRequestUpload');
  }
  return files.write(upload, source);
}
