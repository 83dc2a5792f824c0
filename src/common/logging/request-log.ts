import { hostname } from 'node:os';
import type { Request, Response } from 'express';
import type { DestinationStream } from 'pino';

/** pino's numbers for the levels a request line is written at. */
const LEVEL = { info: 30, warn: 40, error: 50 } as const;

/**
 * One line per request, written when its response closes, in the shape of the root logger's
 * other lines: `{"level","time","pid","hostname","reqId","req":{"method","url","remoteAddress",
 * "userAgent"},"res":{"statusCode"},"responseTime","msg":"request completed"}`, at info, warn for
 * a 4xx, error for a 5xx ("request errored"). Nothing else of the request is written: no headers
 * (Authorization, cookies), no body (passwords), and a signed link's signature is blanked out of
 * the URL.
 *
 * The line is made here, in one string, and handed to the root logger's destination
 * (buffered, asynchronous; pretty in a terminal), not through pino's `logger.info`: pino builds
 * the same line from string pieces that its destination must then flatten, about 8 µs a request
 * on Node 24, against 2 here (docs/benchmarks.md). pino-http before it made two child loggers per
 * request and ran every request in an AsyncLocalStorage context, for a third of the rate of a
 * small download. The service's own lines do not carry the request id: those that concern a
 * request name what they are about (a file id, the request id).
 */
export class RequestLog {
  private readonly pid = process.pid;
  private readonly hostname = JSON.stringify(hostname());

  constructor(private readonly destination: DestinationStream) {}

  /** Watches `res`: its line is written once it closes, answered or not. */
  watch(req: Request, res: Response): void {
    const startedAt = performance.now();
    // `close` comes once: `on` spares the wrapper `once` makes.
    res.on('close', () =>
      this.destination.write(this.lineOf(req, res.statusCode, performance.now() - startedAt)),
    );
  }

  /**
   * The line, as `JSON.stringify` would write the object in the class comment (an undefined
   * value leaves its key out), made from a template: a quarter cheaper, and the values that come
   * from the client (the URL, the user agent, the request id) still go through `JSON.stringify`.
   */
  private lineOf(req: Request, status: number, milliseconds: number): string {
    const level = status >= 500 ? LEVEL.error : status >= 400 ? LEVEL.warn : LEVEL.info;
    const message = status >= 500 ? 'request errored' : 'request completed';
    return (
      `{"level":${level},"time":${Date.now()},"pid":${this.pid},"hostname":${this.hostname}` +
      optional('reqId', (req as Request & { id?: string }).id) +
      `,"req":{"method":${JSON.stringify(req.method)},"url":${JSON.stringify(redactUrl(req.originalUrl))}` +
      optional('remoteAddress', req.socket.remoteAddress) +
      optional('userAgent', req.headers['user-agent']) +
      `},"res":{"statusCode":${status}},"responseTime":${Math.round(milliseconds)},` +
      `"msg":"${message}"}\n`
    );
  }
}

/** `,"key":value` for a string value; nothing for none. */
function optional(key: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`;
}

/** Query values that grant access (a signed link's signature) are not written down. */
function redactUrl(url: string): string {
  return url.includes('signature=') ? url.replace(/([?&]signature=)[^&]*/g, '$1[redacted]') : url;
}
