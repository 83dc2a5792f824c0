import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../../config/app-config.js';
import { rootLogger } from './root-logger.js';

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** Request lines are info-level: above that, the request logger is not mounted at all. */
export function logsRequests(config: AppConfig): boolean {
  return (LEVELS[config.logLevel] ?? Infinity) <= LEVELS.info;
}

/**
 * nestjs-pino, for Nest's own lines and the service's `Logger`s, on the process's root logger.
 * Its pino-http middleware is never mounted: the request lines are `RequestLog`'s, which costs a
 * fraction of it per request.
 */
export function loggerOptions(config: AppConfig): Params {
  return { forRoutes: [], pinoHttp: { logger: rootLogger(config) } };
}
