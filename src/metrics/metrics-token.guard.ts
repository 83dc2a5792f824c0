import { createHash, timingSafeEqual } from 'node:crypto';
import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { NotFoundError, UnauthenticatedError } from '../common/domain-errors.js';
import { AppConfig } from '../config/app-config.js';

/**
 * Lets a scrape through only with `Authorization: Bearer <METRICS_TOKEN>`: the metrics tell how
 * the service is used, which is no one else's business. With METRICS_TOKEN unset, metrics are off
 * and the route is a 404, as if it did not exist.
 */
@Injectable()
export class MetricsTokenGuard implements CanActivate {
  /** Digests compared, not the tokens: equal lengths, so the comparison leaks no length either. */
  private readonly expected: Buffer | undefined;

  constructor(config: AppConfig) {
    this.expected = config.metricsToken === undefined ? undefined : digest(config.metricsToken);
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) {
      throw new NotFoundError('metrics are off: METRICS_TOKEN is not set');
    }
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const given = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), this.expected)) {
      throw new UnauthenticatedError('a scrape needs Authorization: Bearer <METRICS_TOKEN>');
    }
    return true;
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
