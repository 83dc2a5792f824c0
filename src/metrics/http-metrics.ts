import type { Socket } from 'node:net';
import type { Request, Response } from 'express';
import type { HistogramHandle, Labels, Metrics } from './metrics.js';

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

/** What one (method, route template, status) has counted; its labels are made once. */
interface RequestSeries {
  readonly labels: Labels<HttpLabel>;
  requests: number;
}

/** The bytes one route template has moved. */
interface RouteBytes {
  readonly labels: Labels<'route'>;
  received: number;
  sent: number;
}

/**
 * Measures every HTTP request once its response closes (finished, failed or abandoned alike):
 * a count and a duration by method, route template and status, and the connection's bytes both
 * ways. `createApp`'s first middleware has it watch each request when metrics are on.
 *
 * The route is Express' route template (`/files/:id/download`), never the URL: its values are
 * the app's routes and `unmatched`. Bytes are the socket's own counts (headers included), each
 * credited to the request whose response closes next on that connection: a keep-alive
 * connection's bytes are split between its requests, and their sum is what crossed the wire.
 *
 * Counts are plain numbers, by label set, that the counters read when Prometheus scrapes: a
 * prom-client `inc` checks and hashes its labels each time, and a 4 KiB download made three.
 */
export class HttpMetrics {
  private readonly durations: HistogramHandle<HttpLabel>;
  /** By `method route status`: bounded, as the routes are. */
  private readonly requests = new Map<string, RequestSeries>();
  private readonly bytes = new Map<string, RouteBytes>();
  private readonly reported = new WeakMap<Socket, Reported>();

  constructor(metrics: Metrics) {
    const labels = ['method', 'route', 'status'] as const;
    metrics.labelledCounterFrom(
      'files_http_requests_total',
      'HTTP requests answered (or abandoned), by method, route template and status',
      labels,
      () => Array.from(this.requests.values(), (series) => [series.labels, series.requests]),
    );
    this.durations = metrics.histogram(
      'files_http_request_duration_seconds',
      'Time from a request arriving to its response closing, by method, route template and status',
      labels,
    );
    metrics.labelledCounterFrom(
      'files_http_received_bytes_total',
      'Bytes read from clients (request headers and bodies), by route template',
      ['route'],
      () => Array.from(this.bytes.values(), (route) => [route.labels, route.received]),
    );
    metrics.labelledCounterFrom(
      'files_http_sent_bytes_total',
      'Bytes written to clients (response headers and bodies), by route template',
      ['route'],
      () => Array.from(this.bytes.values(), (route) => [route.labels, route.sent]),
    );
  }

  /** Watches `res`: the request is measured once it closes. */
  watch(req: Request, res: Response): void {
    if (req.path === EXPOSITION_PATH) return;
    const started = performance.now();
    const socket = req.socket;
    // `close` comes once: `on` spares the wrapper `once` makes.
    res.on('close', () => this.measure(req, res, socket, started));
  }

  private measure(req: Request, res: Response, socket: Socket, started: number): void {
    const seconds = (performance.now() - started) / 1000;
    const route = routeTemplateOf(req);
    const series = this.seriesOf(methodOf(req), route, res.statusCode);
    series.requests++;
    this.durations.observe(series.labels, seconds);
    const bytes = this.bytesOf(route);
    let reported = this.reported.get(socket);
    if (reported === undefined) {
      reported = { read: 0, written: 0 };
      this.reported.set(socket, reported);
    }
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    bytes.received += Math.max(0, read - reported.read);
    bytes.sent += Math.max(0, written - reported.written);
    reported.read = read;
    reported.written = written;
  }

  private seriesOf(method: string, route: string, status: number): RequestSeries {
    const key = `${method} ${route} ${status}`;
    let series = this.requests.get(key);
    if (series === undefined) {
      series = { labels: { method, route, status }, requests: 0 };
      this.requests.set(key, series);
    }
    return series;
  }

  private bytesOf(route: string): RouteBytes {
    let bytes = this.bytes.get(route);
    if (bytes === undefined) {
      bytes = { labels: { route }, received: 0, sent: 0 };
      this.bytes.set(route, bytes);
    }
    return bytes;
  }
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
