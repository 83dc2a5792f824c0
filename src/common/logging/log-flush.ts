import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { flushLog } from './root-logger.js';

/**
 * On a graceful stop, once the server has answered its last request (Nest runs shutdown hooks
 * after closing it), waits until every log line has been written: a line still in an
 * asynchronous write when the process exits could be lost.
 */
@Injectable()
export class LogFlush implements OnApplicationShutdown {
  onApplicationShutdown(): Promise<void> {
    return flushLog();
  }
}
