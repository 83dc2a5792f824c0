import type { IncomingMessage } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { parse as parseContentDisposition } from 'content-disposition';
import { parse as parseContentType } from 'content-type';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { InvalidInputError, TooLargeError } from '../../common/domain-errors.js';
import { bodyThrough, closeIfUnread, hasBody } from '../../common/request-body.js';
import { AppConfig } from '../../config/app-config.js';
import { FilesService } from '../files.service.js';
import { OCTET_STREAM } from './content-type.js';
import { receiveUpload, type UploadedFilePart } from './received-upload.js';

/**
 * An upload whose body is not multipart is the file itself: streamed into the store as the
 * multipart part is (`receiveUpload`), under the same MAX_UPLOAD_BYTES, and handed to the
 * controller as the same `UploadedFilePart`. Its name is `?filename=`, else the filename of a
 * Content-Disposition header; its declared type the request's Content-Type, else octet-stream.
 *
 * Bound after `FileInterceptor`, which leaves a request that is not multipart alone. A request
 * without a body (see `hasBody`) is left alone too: the controller refuses it, as it refuses a
 * multipart body without a file. An empty raw body counts as none: Node and fetch send
 * `Content-Length: 0` for a POST with nothing in it, which is a mistake far more often than an
 * empty file (an empty file can still come as a multipart part).
 */
@Injectable()
export class RawBodyUploadInterceptor implements NestInterceptor {
  constructor(
    private readonly files: FilesService,
    private readonly config: AppConfig,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    if (hasBody(req) && !isMultipart(req)) {
      const res = http.getResponse<Response>();
      try {
        // Where `@UploadedFile()` finds it, as multer puts a part there.
        (req as { file?: UploadedFilePart }).file = await this.receive(req, res);
      } catch (error) {
        closeIfUnread(req, res);
        throw error;
      }
    }
    return next.handle();
  }

  private async receive(req: Request, res: Response): Promise<UploadedFilePart> {
    const { maxBytes } = this.config.uploads;
    const originalname = filenameOf(req);
    // Node's parser has checked that it is a number. Refused before a byte is stored.
    if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge(maxBytes);
    const limit = new SizeLimit(maxBytes);
    try {
      const written = await receiveUpload(this.files, req, bodyThrough(req, res, limit));
      return { originalname, mimetype: declaredTypeOf(req), size: written.size, written };
    } catch (error) {
      // Whatever the store makes of a source that failed (an error of its own, perhaps), a body
      // past the limit is a 413.
      throw limit.exceeded ?? error;
    }
  }
}

function tooLarge(maxBytes: number): TooLargeError {
  return new TooLargeError(`the file is larger than MAX_UPLOAD_BYTES (${maxBytes} bytes)`);
}

/** Fails once more than `maxBytes` have passed: a chunked body announces no length. */
class SizeLimit extends Transform {
  private received = 0;
  exceeded: TooLargeError | undefined;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.received += chunk.length;
    if (this.received <= this.maxBytes) return done(null, chunk);
    this.exceeded = tooLarge(this.maxBytes);
    done(this.exceeded);
  }
}

function isMultipart(req: IncomingMessage): boolean {
  const header = req.headers['content-type'];
  return header !== undefined && parseContentType(header).type.startsWith('multipart/');
}

/**
 * `?filename=` over Content-Disposition's filename (its `filename*`, RFC 8187, over its plain one);
 * undefined when neither is there. Checked and sanitised at the commit, as a part's filename is.
 */
function filenameOf(req: Request): string | undefined {
  const query: unknown = req.query.filename;
  if (query !== undefined && typeof query !== 'string') {
    throw new InvalidInputError('filename must be given at most once, as a string');
  }
  if (query !== undefined) return query;
  const disposition = req.headers['content-disposition'];
  return disposition === undefined
    ? undefined
    : parseContentDisposition(disposition).parameters.filename;
}

/** The media type of the request's Content-Type, as a part's is (its validity is the commit's). */
function declaredTypeOf(req: IncomingMessage): string {
  const header = req.headers['content-type'];
  return header === undefined ? OCTET_STREAM : parseContentType(header).type;
}
