import { STATUS_CODES } from 'node:http';
import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { GateBusyError } from './concurrency-gate.js';
import { DomainError, type DomainErrorKind, RateLimitedError } from './domain-errors.js';
import { HttpExceptionWithHeaders, RetryLaterException } from './http-exceptions.js';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
  details?: unknown;
}

/** Headers that describe a body the handler meant to send, which the error body replaces. */
const REPRESENTATION_HEADERS = [
  'Content-Disposition',
  'Content-Range',
  'Content-Length',
  'Content-Encoding',
  'ETag',
  'Last-Modified',
  'Accept-Ranges',
];

/**
 * Every error leaves as JSON in Nest's shape with all three fields: `statusCode`, `error`,
 * `message`. Unknown errors become a 500 that says nothing of their cause (it is logged).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(error: unknown, host: ArgumentsHost): void {
    const exception = toHttpException(error);
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const body = toErrorBody(exception);
    if (body.statusCode >= 500 && !(exception instanceof HttpException)) {
      // The service's own lines carry no request id of themselves (RequestLog): named here.
      const request = http.getRequest<{ id?: string; destroyed?: boolean }>();
      if (request.destroyed || response.headersSent) {
        // The client went away, or was answered already (a 408): what failed after is no bug.
        this.logger.warn(`request ${request.id} ended early: ${String(exception)}`);
      } else {
        const cause =
          exception instanceof Error ? (exception.stack ?? exception.message) : String(exception);
        this.logger.error(`request ${request.id}: ${cause}`);
      }
    }
    if (response.headersSent) {
      // Part of another body is on the wire already: cutting the connection is the only honest end.
      if (!response.writableEnded) response.destroy();
      return;
    }
    for (const header of REPRESENTATION_HEADERS) response.removeHeader(header);
    if (exception instanceof HttpExceptionWithHeaders) {
      for (const [name, value] of Object.entries(exception.headers))
        response.setHeader(name, value);
    }
    // RFC 9110: every 401 names the scheme that would be accepted.
    if (body.statusCode === 401 && !response.hasHeader('WWW-Authenticate')) {
      response.setHeader('WWW-Authenticate', 'Bearer');
    }
    response.status(body.statusCode).json(body);
  }
}

const STATUS_OF: Record<DomainErrorKind, HttpStatus> = {
  invalid: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  'not-found': HttpStatus.NOT_FOUND,
  expired: HttpStatus.GONE,
  conflict: HttpStatus.CONFLICT,
  locked: HttpStatus.LOCKED,
  // tus 1.0's own status for it (the checksum extension).
  'checksum-mismatch': 460 as HttpStatus,
  'too-large': HttpStatus.PAYLOAD_TOO_LARGE,
  'quota-exceeded': HttpStatus.PAYLOAD_TOO_LARGE,
  'unsupported-type': HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  unprocessable: HttpStatus.UNPROCESSABLE_ENTITY,
  'rate-limited': HttpStatus.TOO_MANY_REQUESTS,
  'provider-unavailable': HttpStatus.SERVICE_UNAVAILABLE,
  'storage-unavailable': HttpStatus.SERVICE_UNAVAILABLE,
};

/** Errors of the service's own that mean a status of their own. */
function toHttpException(error: unknown): unknown {
  if (error instanceof RateLimitedError) {
    return new RetryLaterException(
      HttpStatus.TOO_MANY_REQUESTS,
      error.message,
      error.retryAfterSeconds,
    );
  }
  if (error instanceof DomainError) return new HttpException(error.message, STATUS_OF[error.kind]);
  if (error instanceof GateBusyError) {
    return new RetryLaterException(
      HttpStatus.SERVICE_UNAVAILABLE,
      error.message,
      error.retryAfterSeconds,
    );
  }
  return error;
}

function toErrorBody(exception: unknown): ErrorBody {
  if (exception instanceof HttpException) {
    const statusCode = exception.getStatus();
    const error = STATUS_CODES[statusCode] ?? 'Error';
    const response = exception.getResponse();
    if (typeof response === 'string') return { statusCode, error, message: response };
    const { message, details } = response as { message?: string | string[]; details?: unknown };
    return {
      statusCode,
      error,
      message: message ?? error,
      ...(details !== undefined && { details }),
    };
  }
  // Errors of Express's body parsers (http-errors) carry a client status: malformed JSON, too large.
  const status = (exception as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const type = (exception as { type?: string }).type;
    const message =
      type === 'entity.parse.failed'
        ? 'the request body is not valid JSON'
        : (STATUS_CODES[status] ?? 'Error');
    return { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message };
  }
  return { statusCode: 500, error: 'Internal Server Error', message: 'internal server error' };
}
