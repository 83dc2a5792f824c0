import { HttpException, HttpStatus } from '@nestjs/common';

/** An HTTP error whose response needs headers of its own; `AllExceptionsFilter` sends them. */
export class HttpExceptionWithHeaders extends HttpException {
  constructor(
    status: HttpStatus,
    message: string,
    readonly headers: Readonly<Record<string, string>>,
  ) {
    super(message, status);
  }
}

/** A 429 or 503 that tells the client when to come back (`Retry-After`, whole seconds). */
export class RetryLaterException extends HttpExceptionWithHeaders {
  constructor(
    status: HttpStatus.TOO_MANY_REQUESTS | HttpStatus.SERVICE_UNAVAILABLE,
    message: string,
    retryAfterSeconds: number,
  ) {
    super(status, message, { 'Retry-After': String(retryAfterSeconds) });
  }
}
