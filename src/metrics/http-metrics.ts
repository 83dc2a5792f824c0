import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import type { CounterHandle, HistogramHandle, Metrics } from './metrics.js';

type HttpLabel = 'method' | 'route' | 'status';

/** Methods named as they are; anything else (a made-up verb) counts as OTHER. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The scrape itself is not traffic: it would only measure Prometheus. */
const EXPOSITION_PATH = '/metrics';

/** The socket's byte counts already reported, so that each byte counts once. */
interface Reported {
  read: number;
  written: number;
}

/**
 * Measures every HTTP request once its response closes (finished, failed or abandoned alike):
 * a count and a duration by method, route template and status, and the connection's bytes both
 * ways. Mounted in `createApp` only when metrics are on.
 *
 * The route is Express' route template (`/files/:id/download`), never the URL: its values are
 * the app's routes and `unmatched`. Bytes are the socket's own counts (headers included), each
 * credited to the request whose response closes next on that connection: a keep-alive
 * connection's bytes are split between its requests, and their sum is what crossed the wire.
 */
export class HttpMetrics {
  private readonly requests: CounterHandle<HttpLabel>;
  private readonly durations: HistogramHandle<HttpLabel>;
  private readonly received: CounterHandle<'route'>;
  private readonly sent: CounterHandle<'route'>;
  private readonly reported = new WeakMap<Socket, Reported>();

  constructor(metrics: Metrics) {
    const labels = ['method', 'route', 'status'] as const;
    this.requests = metrics.counter(
      'files_http_requests_total',
      'HTTP requests answered (or abandoned), by method, route template and status',
      labels,
    );
    this.durations = metrics.histogram(
      'files_http_request_duration_seconds',
      'Time from a request arriving to its response closing, by method, route template and status',
      labels,
    );
    this.received = metrics.counter(
      'files_http_received_bytes_total',
      'Bytes read from clients (request headers and bodies), by route template',
      ['route'],
    );
    this.sent = metrics.counter(
      'files_http_sent_bytes_total',
      'Bytes written to clients (response headers and bodies), by route template',
      ['route'],
    );
  }

  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (req.path === EXPOSITION_PATH) return next();
    const started = process.hrtime.bigint();
    const socket = req.socket;
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeTemplateOf(req);
      const labels = { method: methodOf(req), route, status: res.statusCode };
      this.requests.inc(labels);
      this.durations.observe(labels, seconds);
      const before = this.reported.get(socket) ?? { read: 0, written: 0 };
      const now = { read: socket.bytesRead, written: socket.bytesWritten };
      this.reported.set(socket, now);
      this.received.inc({ route }, Math.max(0, now.read - before.read));
      this.sent.inc({ route }, Math.max(0, now.written - before.written));
    });
    next();
  };
}

function methodOf(req: Request): string {
  return KNOWN_METHODS.has(req.method) ? req.method : 'OTHER';
}

/**
 * The template of the route that handled the request, or `unmatched`. Express keeps the last
 * route layer a request went through: a handler's, or, when none matched, one of the wildcard
 * layers Nest mounts middleware with (`/{*splat}`): no handler's path has a wildcard.
 */
export function routeTemplateOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string' || path.includes('*')) return 'unmatched';
  return `${req.baseUrl}${path}`;
}
