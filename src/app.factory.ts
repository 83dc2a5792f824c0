import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { applyHttpServerTimeouts } from './common/http-server-timeouts.js';
import { logDestination } from './common/logging/root-logger.js';
import { logsRequests } from './common/logging/logger-options.js';
import { RequestLog } from './common/logging/request-log.js';
import { assignRequestId } from './common/request-id.js';
import type { AppConfig } from './config/app-config.js';
import { HttpMetrics } from './metrics/http-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { METRICS_SECURITY_SCHEME } from './metrics/metrics.controller.js';

/**
 * The whole HTTP application, as `main.ts` serves it and the end-to-end tests drive it:
 * security headers, request ids, logging, OpenAPI and graceful shutdown.
 */
/** 'close' listeners a response may gather before Node warns of a leak. */
const RESPONSE_LISTENERS = 32;

export async function createApp(config: AppConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    // A failure to start is thrown to the caller (main exits non-zero), not a bare process.exit.
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  const requestLog = logsRequests(config)
    ? new RequestLog(logDestination(config.logFormat))
    : undefined;
  const httpMetrics = app.get(Metrics).enabled ? app.get(HttpMetrics) : undefined;
  // First of all, one layer (each of Express's costs a few µs): every response and log line gets
  // an id, even a 404's, and a request is logged and measured from its start.
  app.use((req: Request, res: Response, next: NextFunction) => {
    // A response gathers a 'close' listener from each part that watches it (the request log,
    // metrics, a download's slot and body, the audit trail): past Node's warning threshold of
    // 10, which would print a MaxListenersExceededWarning, stack and all, for every download
    // (a third of a 4 KiB download's CPU).
    res.setMaxListeners(RESPONSE_LISTENERS);
    assignRequestId(req, res);
    requestLog?.watch(req, res);
    httpMetrics?.watch(req, res);
    next();
  });
  app.use(
    helmet({
      // The service (and /docs) may be reached over plain http, e.g. on a LAN address: there
      // the browser must not rewrite Swagger UI's requests to https.
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
    }),
  );
  // SIGTERM: stop accepting, let in-flight requests finish, close the database, exit 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  applyHttpServerTimeouts(app.getHttpServer(), config);
  setUpOpenApi(app);
  return app;
}

function setUpOpenApi(app: NestExpressApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('File delivery service')
      .setDescription(
        'Upload files and get them back by UUID; blur images in memory. Log in with ' +
          '`POST /auth/login`, then press **Authorize** and paste the `access_token`, or an ' +
          'API key (`fds_…`), or an access token of the configured OpenID Connect provider.',
      )
      .setVersion('1.0')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT, or an API key',
        description:
          'An `access_token` from `POST /auth/login`, an API key (`fds_…`, from ' +
          '`POST /auth/api-keys` or the CLI), or an access token of the configured OpenID ' +
          'Connect provider. An API key reaches only the routes its scopes cover ' +
          '(`x-required-scopes` on each operation).',
      })
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          description: 'The METRICS_TOKEN the service was started with (`GET /metrics` only).',
        },
        METRICS_SECURITY_SCHEME,
      )
      .build(),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    swaggerOptions: { persistAuthorization: true },
  });
}
