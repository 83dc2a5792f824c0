import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/**
 * One line per request, written when its response closes, through the root logger:
 * `{"reqId","req":{"method","url","remoteAddress","userAgent"},"res":{"statusCode"},
 * "responseTime","msg":"request completed"}` at info, warn for a 4xx, error for a 5xx ("request
 * errored"). Nothing else of the request is written: no headers (Authorization, cookies), no body
 * (passwords), and a signed link's signature is blanked out of the URL.
 *
 * pino-http, which this replaces, made two child loggers per request (serializing the request
 * into each) and nestjs-pino ran every request in an AsyncLocalStorage context, for a third of
 * the rate of a small download (docs/benchmarks.md). The service's own lines do not carry the
 * request id: those that concern a request name what they are about (a file id, the request id).
 */
export function requestLog(logger: Logger) {
  return function logRequest(req: Request, res: Response, next: NextFunction): void {
    const startedAt = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const line = {
        reqId: (req as Request & { id?: string }).id,
        req: {
          method: req.method,
          url: redactUrl(req.originalUrl),
          remoteAddress: req.socket.remoteAddress,
          userAgent: req.headers['user-agent'],
        },
        res: { statusCode: status },
        responseTime: Math.round(performance.now() - startedAt),
      };
      if (status >= 500) logger.error(line, 'request errored');
      else if (status >= 400) logger.warn(line, 'request completed');
      else logger.info(line, 'request completed');
    });
    next();
  };
}

/** Query values that grant access (a signed link's signature) are not written down. */
function redactUrl(url: string): string {
  return url.includes('signature=') ? url.replace(/([?&]signature=)[^&]*/g, '$1[redacted]') : url;
}
