import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { catchError, from, mergeMap, throwError, type Observable } from 'rxjs';
import type { AuthenticatedUser } from '../../auth/authenticated-user.js';
import { closeIfUnread, hasBody } from '../../common/request-body.js';
import { AppConfig } from '../../config/app-config.js';
import { FilesService } from '../files.service.js';
import { beginRequestUpload, discardRequestUpload } from './received-upload.js';

/**
 * Bound before the interceptors that read an upload's body (multer's, `RawBodyUploadInterceptor`):
 * the upload is begun, and what it announces claimed of its owner's quota, before any of the body
 * is read. A refusal (413 over the quota) closes the connection rather than read the rest. A
 * request that fails later has its upload discarded before it is answered.
 */
@Injectable()
export class BeginUploadInterceptor implements NestInterceptor {
  constructor(
    private readonly files: FilesService,
    private readonly config: AppConfig,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request & { user: AuthenticatedUser }>();
    if (!hasBody(req)) return next.handle();
    const res = http.getResponse<Response>();
    try {
      await beginRequestUpload(this.files, req.user, req, res, this.config.uploads.maxBytes);
    } catch (error) {
      closeIfUnread(req, res);
      throw error;
    }
    return next
      .handle()
      .pipe(
        catchError((error: unknown) =>
          from(discardRequestUpload(req)).pipe(mergeMap(() => throwError(() => error))),
        ),
      );
  }
}
