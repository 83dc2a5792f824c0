import { HttpException, HttpStatus } from '@nestjs/common';

/** A 429 or 503 that tells the client when to come back (`Retry-After`, whole seconds). */
export class RetryLaterException extends HttpException {
  constructor(
    status: HttpStatus.TOO_MANY_REQUESTS | HttpStatus.SERVICE_UNAVAILABLE,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, status);
  }
}
