import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/app-config.js';

/** What pino-http hands the serializers (pino-std-serializers' view of the request). */
interface SerializedRequest {
  method: string;
  url: string;
  remoteAddress?: string;
  headers: Record<string, string | undefined>;
}

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/**
 * JSON logs, one line per request (pino-http) tagged with its request id. Credentials never reach
 * the log: headers are not logged (Authorization included) and neither are bodies (passwords).
 * Request lines are info-level: above that the request logger is not mounted at all, since
 * building its per-request child loggers cost more than the rest of a small download
 * (docs/benchmarks.md).
 */
export function loggerOptions(config: AppConfig): Params {
  const logsRequests = (LEVELS[config.logLevel] ?? Infinity) <= LEVELS.info;
  return {
    ...(!logsRequests && { forRoutes: [] }),
    pinoHttp: {
      level: config.logLevel,
      genReqId: (req) => (req as IncomingMessage & { id: string }).id,
      serializers: {
        req: (req: SerializedRequest) => ({
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.remoteAddress,
          userAgent: req.headers['user-agent'],
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // Whatever else might carry a credential, should a serializer above ever change.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.password'],
        censor: '[redacted]',
      },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      quietReqLogger: true,
    },
  };
}

/** Query values that grant access (a signed link's signature) are not written down. */
function redactUrl(url: string): string {
  return url.replace(/([?&]signature=)[^&]*/g, '$1[redacted]');
}
