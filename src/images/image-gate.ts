import {
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Injectable,
  NestInterceptor,
  ValidationPipe,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Observable } from 'rxjs';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { ConcurrencyGate } from '../common/concurrency-gate.js';
import { HttpExceptionWithHeaders, RetryLaterException } from '../common/http-exceptions.js';
import { AppConfig } from '../config/app-config.js';
import { BlurQueryDto } from './dto/blur-query.dto.js';
import { hasBody } from '../common/request-body.js';

/** The slots of image work: IMAGE_CONCURRENCY at once, IMAGE_QUEUE_LIMIT waiting. */
@Injectable()
export class ImageGate extends ConcurrencyGate {
  constructor(config: AppConfig) {
    super(
      config.images.concurrency,
      config.images.queueLimit,
      config.images.queueTimeoutMs,
      'the image workers are busy: try again shortly',
    );
  }
}

/**
 * The working memory of images being blurred, in bytes: IMAGE_MEMORY_BUDGET_MB. Each image
 * reserves its estimate (`estimateWorkingMemory`) before it is decoded, and waits in line while
 * others hold too much of it; the slots alone cannot bound memory, since one 49-megapixel AVIF
 * takes as much as forty 12-megapixel JPEGs.
 */
@Injectable()
export class ImageMemoryBudget extends ConcurrencyGate {
  constructor(config: AppConfig) {
    // Only holders of a slot ask for memory: at most IMAGE_CONCURRENCY of them wait.
    super(
      config.images.memoryBudgetBytes,
      config.images.concurrency,
      config.images.queueTimeoutMs,
      'the image workers are short of memory: try again shortly',
    );
  }
}

/** The same validation the handler's `@Query()` gets, run before any slot is taken. */
const queryValidation = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
});

/**
 * Admits a request to image work, cheapest refusals first: a bad query (400), a user past
 * IMAGE_USER_LIMIT requests holding or waiting for a slot (429), a full queue (503). The slot is
 * taken before the upload is read, so a burst waits unread instead of buffering hundreds of
 * images; once it holds a slot, the upload must have arrived within IMAGE_UPLOAD_TIMEOUT_SECONDS
 * (408), so that clients trickling bytes cannot keep the slots from everyone else.
 * Listed before the route's FileInterceptor.
 */
@Injectable()
export class ImageAdmissionInterceptor implements NestInterceptor {
  /** Requests of each user that hold or wait for a slot. */
  private readonly perUser = new Map<string, number>();
  private readonly perUserLimit: number;
  private readonly uploadTimeoutMs: number;

  constructor(
    private readonly gate: ImageGate,
    config: AppConfig,
  ) {
    this.perUserLimit = config.images.perUserLimit;
    this.uploadTimeoutMs = config.images.uploadTimeoutSeconds * 1000;
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request & { user: AuthenticatedUser }>();
    const response = http.getResponse<Response>();
    await queryValidation.transform(request.query, { type: 'query', metatype: BlurQueryDto });

    const userId = request.user.id;
    const leave = this.enter(userId);
    let release;
    try {
      release = await this.acquireSlot(response);
    } catch (error) {
      leave();
      throw error;
    }
    const done = () => {
      release();
      leave();
    };
    return hasBody(request)
      ? withUploadDeadline(next.handle(), request, response, this.uploadTimeoutMs, done)
      : new Observable((subscriber) => {
          const subscription = next.handle().subscribe(subscriber);
          return () => {
            subscription.unsubscribe();
            done();
          };
        });
  }

  /** Counts a request of `userId` in; the function returned counts it out (once). */
  private enter(userId: string): () => void {
    const count = this.perUser.get(userId) ?? 0;
    if (count >= this.perUserLimit) {
      throw new RetryLaterException(
        HttpStatus.TOO_MANY_REQUESTS,
        `you have ${count} image requests in progress or waiting, the most IMAGE_USER_LIMIT allows: ` +
          'try again when one has finished',
        this.gate.retryAfterSeconds(),
      );
    }
    this.perUser.set(userId, count + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const remaining = (this.perUser.get(userId) ?? 1) - 1;
      if (remaining > 0) this.perUser.set(userId, remaining);
      else this.perUser.delete(userId);
    };
  }

  /** @throws GateBusyError past the queue (503) */
  private async acquireSlot(response: Response) {
    const clientLeft = new AbortController();
    const onClose = () => clientLeft.abort(new Error('the client went away while waiting'));
    response.once('close', onClose);
    try {
      return await this.gate.acquire(clientLeft.signal);
    } finally {
      response.off('close', onClose);
    }
  }
}

/**
 * `handled`, failed with a 408 if the request's body has not all arrived within `timeoutMs`. The
 * 408 closes the connection (`Connection: close`), which ends the read of the rest.
 */
function withUploadDeadline<T>(
  handled: Observable<T>,
  request: Request,
  response: Response,
  timeoutMs: number,
  done: () => void,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const timer = setTimeout(() => {
      subscriber.error(
        new HttpExceptionWithHeaders(
          HttpStatus.REQUEST_TIMEOUT,
          `the image did not arrive within IMAGE_UPLOAD_TIMEOUT_SECONDS (${timeoutMs / 1000} s)`,
          { Connection: 'close' },
        ),
      );
      // Whatever the client still sends is not read: the connection goes once the 408 is out.
      response.once('finish', () => request.destroy());
    }, timeoutMs);
    request.once('end', () => clearTimeout(timer));
    const subscription = handled.subscribe(subscriber);
    return () => {
      clearTimeout(timer);
      subscription.unsubscribe();
      done();
    };
  });
}
