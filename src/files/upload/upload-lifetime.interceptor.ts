import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { InvalidInputError } from '../../common/domain-errors.js';
import { closeIfUnread } from '../../common/request-body.js';
import { parseLifetime } from '../file-lifetimes.js';
import { FilesService } from '../files.service.js';
import type { UploadedFilePart } from './received-upload.js';

/**
 * Checks an upload's `?expiresIn=` before its body is read, bound before the interceptors that
 * store it: a lifetime the file may not have is a 400 before a byte is stored, and the unread
 * body is not read (the answer closes the connection). The controller reads it again (a pipe
 * runs only after the upload) and the commit checks it again.
 */
@Injectable()
export class UploadLifetimeInterceptor implements NestInterceptor {
  constructor(private readonly files: FilesService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    try {
      this.files.checkLifetime(parseLifetime(req.query.expiresIn));
    } catch (error) {
      closeIfUnread(req, http.getResponse<Response>());
      throw error;
    }
    return next.handle();
  }
}

/**
 * The lifetime an upload asked for: `?expiresIn=`, or a multipart `expiresIn` field sent before
 * the file part (`UploadStorageEngine` read it then). Both, or a field after the file (which came
 * too late to be checked before the bytes), are refused rather than one of them ignored.
 * @throws InvalidInputError
 */
export function lifetimeOf(
  upload: UploadedFilePart,
  queryValue: unknown,
  fieldValue: unknown,
): number | undefined {
  const fromQuery = parseLifetime(queryValue);
  if (fieldValue === undefined) return fromQuery;
  if (fromQuery !== undefined) {
    throw new InvalidInputError('expiresIn must be given once: as a query parameter or a field');
  }
  if (upload.expiresIn === undefined) {
    throw new InvalidInputError('the expiresIn field must come before the file part');
  }
  return upload.expiresIn;
}
