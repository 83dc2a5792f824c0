import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { HttpMetrics } from './http-metrics.js';
import { Metrics } from './metrics.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsTokenGuard } from './metrics-token.guard.js';

/**
 * Prometheus metrics at `GET /metrics`, on when METRICS_TOKEN is set. Global: any feature
 * injects `Metrics` to report (a no-op when off), as it would a logger.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [
    {
      provide: Metrics,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        config.metricsToken === undefined ? Metrics.off() : Metrics.on(),
    },
    {
      provide: HttpMetrics,
      inject: [Metrics],
      useFactory: (metrics: Metrics) => new HttpMetrics(metrics),
    },
    MetricsTokenGuard,
  ],
  exports: [Metrics, HttpMetrics],
})
export class MetricsModule {}

/** The operator CLI's: the features still inject `Metrics`, off (nothing scrapes a command). */
@Global()
@Module({
  providers: [{ provide: Metrics, useValue: Metrics.off() }],
  exports: [Metrics],
})
export class MetricsOffModule {}
