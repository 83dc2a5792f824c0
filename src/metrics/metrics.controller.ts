import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators.js';
import { ErrorDto } from '../common/error.dto.js';
import { EXPOSITION_CONTENT_TYPE, Metrics } from './metrics.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';

/** The OpenAPI security scheme of the scrape: METRICS_TOKEN, not a user's credential. */
export const METRICS_SECURITY_SCHEME = 'metrics-token';

@ApiTags('operations')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  /** Public to the user guard: the scrape has a token of its own (`MetricsTokenGuard`). */
  @Public()
  @UseGuards(MetricsTokenGuard)
  @Get()
  @Header('Content-Type', EXPOSITION_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiBearerAuth(METRICS_SECURITY_SCHEME)
  @ApiOperation({
    summary: 'Prometheus metrics, in its text format (with METRICS_TOKEN set)',
    description:
      'For Prometheus to scrape, with `Authorization: Bearer <METRICS_TOKEN>` (not a user ' +
      'token). HTTP requests by method, route template and status, bytes sent and received, ' +
      'downloads and uploads in flight, the image gate, the storage sweeper, store and database ' +
      'latency and errors, and Node process metrics; all names begin with `files_`.',
  })
  @ApiOkResponse({
    description: 'The metrics, in Prometheus text format 0.0.4',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiUnauthorizedResponse({ type: ErrorDto, description: 'No METRICS_TOKEN, or a wrong one' })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'Metrics are off: METRICS_TOKEN is unset' })
  exposition(): Promise<string> {
    return this.metrics.exposition();
  }
}
