import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { catchError, type Observable } from 'rxjs';
import { closeIfUnread } from './request-body.js';

/**
 * A route that streams the request body: when it fails before the body's end (a refusal before
 * a byte is read, a body cut short), its answer closes the connection (`closeIfUnread`).
 */
@Injectable()
export class ClosesUnreadBody implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    return next.handle().pipe(
      catchError((error: unknown) => {
        closeIfUnread(http.getRequest<Request>(), http.getResponse<Response>());
        throw error;
      }),
    );
  }
}
