import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { TempFiles } from './temp-files.service.js';

/**
 * Every route: once a response is over, removes every temp file its request made and did not
 * commit. Cleanup hangs on the response's 'close' event, which fires after it finished, after it
 * failed and when the client went away. A middleware rather than a global interceptor: any
 * interceptor on a route brings Nest's RxJS pipeline into every request of it, a few percent of a
 * small download.
 */
@Injectable()
export class TempFileCleanupMiddleware implements NestMiddleware {
  constructor(private readonly tempFiles: TempFiles) {}

  use(request: Request, response: Response, next: NextFunction): void {
    const cleanUp = () => void this.tempFiles.cleanUp(request);
    if (response.closed) cleanUp();
    else response.once('close', cleanUp);
    next();
  }
}
