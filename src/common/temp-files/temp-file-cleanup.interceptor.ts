import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { TempFiles } from './temp-files.service.js';

/**
 * Global: once a response is over, removes every temp file its request made and did not
 * commit. Cleanup hangs on the response's 'close' event, which fires after it finished, after it
 * failed and when the client went away: an interceptor's `finalize` would run when the handler
 * returns, before a streamed body is even sent.
 */
@Injectable()
export class TempFileCleanupInterceptor implements NestInterceptor {
  constructor(private readonly tempFiles: TempFiles) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const cleanUp = () => void this.tempFiles.cleanUp(request);
    if (response.closed) cleanUp();
    else response.once('close', cleanUp);
    return next.handle();
  }
}
