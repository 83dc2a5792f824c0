import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { closeIfUnread } from '../../common/request-body.js';
import { parseLifetime } from '../file-lifetimes.js';
import { FilesService } from '../files.service.js';

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
