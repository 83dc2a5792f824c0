import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet, { type HelmetOptions } from 'helmet';
import { Logger } from 'nestjs-pino';
import { Logger as NestLogger } from '@nestjs/common';
import { AppModule } from './app.module.js';
import { DOWNLOAD_ROUTES } from './files/downloads.controller.js';
import { applyHttpServerTimeouts } from './common/http-server-timeouts.js';
import { logDestination } from './common/logging/root-logger.js';
import { logsRequests } from './common/logging/logger-options.js';
import { RequestLog } from './common/logging/request-log.js';
import { assignRequestId } from './common/request-id.js';
import type { AppConfig } from './config/app-config.js';
import { HttpMetrics } from './metrics/http-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { METRICS_SECURITY_SCHEME } from './metrics/metrics.controller.js';

/** helmet's defaults, but for the one that assumes https. */
export const HELMET_OPTIONS: HelmetOptions = {
  // The service (and /docs) may be reached over plain http, e.g. on a LAN address: there the
  // browser must not rewrite Swagger UI's requests to https.
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
};

/** 'close' listeners a response may gather before Node warns of a leak. */
const RESPONSE_LISTENERS = 32;

/**
 * The whole HTTP application, as `main.ts` serves it and the end-to-end tests drive it:
 * security headers, request ids, logging, OpenAPI and graceful shutdown.
 */
export async function createApp(
  config: AppConfig,
  /** The configuration's warnings (`loadConfig`), logged among the start-up's lines. */
  warnings: readonly string[] = [],
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    // A failure to start is thrown to the caller (main exits non-zero), not a bare process.exit.
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  const logger = new NestLogger('Main');
  for (const warning of warnings) logger.warn(warning);
  app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  const requestLog = logsRequests(config)
    ? new RequestLog(logDestination(config.logFormat))
    : undefined;
  const httpMetrics = app.get(Metrics).enabled ? app.get(HttpMetrics) : undefined;
  const securityHeaders = headersSetBy(helmet(HELMET_OPTIONS));
  // First of all, one layer (each of Express's costs a few µs): every response and log line gets
  // an id, even a 404's, a request is logged and measured from its start, and every response
  // carries helmet's security headers.
  app.use((req: Request, res: Response, next: NextFunction) => {
    // A response gathers a 'close' listener from each part that watches it (the request log,
    // metrics, a download's slot and body, the audit trail): past Node's warning threshold of
    // 10, which would print a MaxListenersExceededWarning, stack and all, for every download
    // (a third of a 4 KiB download's CPU).
    res.setMaxListeners(RESPONSE_LISTENERS);
    assignRequestId(req, res);
    requestLog?.watch(req, res);
    httpMetrics?.watch(req, res);
    for (const [name, value] of securityHeaders) res.setHeader(name, value);
    next();
  });
  // Where the routes begin: after the layers above (and Nest's own first one).
  const firstRoute = routerLayers(app).length;
  // SIGTERM: stop accepting, let in-flight requests finish, close the database, exit 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  applyHttpServerTimeouts(app.getHttpServer(), config);
  setUpOpenApi(app);
  await app.init();
  try {
    tryFirst(app, DOWNLOAD_ROUTES, firstRoute);
  } catch (error) {
    // Started: the database and the background work would outlive the failure.
    await app.close();
    throw error;
  }
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

/**
 * The headers `middleware` (helmet's) sets on a response, read off it once: with these options
 * every one is constant (no directive computed per request, such as a nonce), so the first
 * layer sets them itself, without helmet's chain of a dozen middlewares on every request.
 */
function headersSetBy(middleware: ReturnType<typeof helmet>): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: string) => headers.push([name, value]),
    // `X-Powered-By`, which Express no longer sends (`app.disable` above).
    removeHeader: () => undefined,
  };
  let done = false;
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    // Helmet checks its options when it is made: nothing is left to fail here.
    if (error) throw error instanceof Error ? error : new Error('helmet refused a response');
    done = true;
  });
  // An option whose header waits for something (none of helmet 8's) could not be read off once.
  if (!done) throw new Error('helmet did not answer at once: its headers cannot be read off it');
  return headers;
}

/** Express's layers: middleware and routes, tried in this order. */
interface RouterLayer {
  route?: { path: string };
}
function routerLayers(app: NestExpressApplication): RouterLayer[] {
  return (app.getHttpAdapter().getInstance() as { router: { stack: RouterLayer[] } }).router.stack;
}

/**
 * Moves the routes at `paths` (all their methods, in the order Nest registered them: HEAD before
 * GET) to `index` of Express's layers. Express tries its layers in turn: the downloads came after
 * Swagger UI's, the body parsers' and every other route's, 35 layers whose paths were matched and
 * failed on each download, about 2% of a 4 KiB download's instructions. The layers they now pass
 * over answered no download: only tus's, at `/files/uploads/download` and
 * `/files/uploads/signed-download`, share a shape with them, and those are now a download's 400
 * (`uploads` is no file id) instead of tus's 400 or 401, without its Tus-Resumable header.
 * Middleware that Nest mounts for download paths (`forRoutes`) would be passed over too: none is.
 * @throws Error when a path names no route: the routes were renamed, not this list.
 */
function tryFirst(app: NestExpressApplication, paths: readonly string[], index: number): void {
  const layers = routerLayers(app);
  const moved = layers.filter((layer) => layer.route && paths.includes(layer.route.path));
  const missing = paths.filter((path) => !moved.some((layer) => layer.route?.path === path));
  if (missing.length > 0) throw new Error(`no route at ${missing.join(', ')} to try first`);
  for (const layer of moved) layers.splice(layers.indexOf(layer), 1);
  layers.splice(index, 0, ...moved);
}
