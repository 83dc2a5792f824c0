import {
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Injectable,
  NestInterceptor,
} from '@nestjs/common';
import type { Response } from 'express';
import { finalize, type Observable } from 'rxjs';
import { RetryLaterException } from '../common/http-exceptions.js';
import { AppConfig } from '../config/app-config.js';
import { ConcurrencyGate, GateBusyError } from '../common/concurrency-gate.js';

/** The gate in front of image work: IMAGE_CONCURRENCY slots, IMAGE_QUEUE_LIMIT waiting. */
@Injectable()
export class ImageGate extends ConcurrencyGate {
  constructor(config: AppConfig) {
    super(config.images.concurrency, config.images.queueLimit, config.images.queueTimeoutMs);
  }
}

/**
 * Holds an image slot for the whole of a request's image work. Listed before the upload's
 * FileInterceptor, so a burst waits here, unread, instead of buffering hundreds of images;
 * past the queue, 503 with Retry-After.
 */
@Injectable()
export class ImageGateInterceptor implements NestInterceptor {
  constructor(private readonly gate: ImageGate) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const response = context.switchToHttp().getResponse<Response>();
    const clientLeft = new AbortController();
    const onClose = () => clientLeft.abort(new Error('the client went away while waiting'));
    response.once('close', onClose);
    let release;
    try {
      release = await this.gate.acquire(clientLeft.signal);
    } catch (error) {
      if (!(error instanceof GateBusyError)) throw error;
      throw new RetryLaterException(
        HttpStatus.SERVICE_UNAVAILABLE,
        'the image workers are busy: try again shortly',
        error.retryAfterSeconds,
      );
    } finally {
      response.off('close', onClose);
    }
    return next.handle().pipe(finalize(release));
  }
}
