import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import sharp from 'sharp';
import { sql } from 'kysely';
import { AuditTrail } from '../src/audit/audit-trail.js';
import { Database } from '../src/database/database.js';
import { StorageSweeper } from '../src/files/storage-sweeper.js';
import { FileStore } from '../src/files/storage/file-store.js';
import { storageKeyOf } from '../src/files/storage/storage-key.js';
import { Metrics } from '../src/metrics/metrics.js';
import { unfinishedUpload } from './support/multipart.js';
import { eventually } from './support/storage.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp } from './support/test-app.js';

const METRICS_TOKEN = 'a-metrics-token-for-the-tests';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * One scrape, parsed by a real Prometheus text-format parser, which throws on an invalid line.
 * It keeps only the buckets of a histogram with labels, so the values of series are read from a
 * second parse without the TYPE (and HELP) lines, where each `_count`, `_sum` and `_bucket` is a series of
 * its own.
 */
class Scrape {
  readonly families: ParsedFamily[];
  private readonly series: ParsedFamily[];

  constructor(text: string) {
    this.families = parsePrometheusTextFormat(text);
    this.series = parsePrometheusTextFormat(text.replace(/^# (TYPE|HELP) .*$/gm, ''));
  }

  family(name: string): ParsedFamily | undefined {
    return this.families.find((f) => f.name === name);
  }

  /**
   * The value of the series of `name` with exactly `labels` (a histogram's count), or 0 when
   * there is none yet: a counter that has not moved has no series.
   */
  value(name: string, labels: Record<string, string> = {}): number {
    const sample = this.series
      .filter((f) => f.name === name || f.name === `${name}_count`)
      .flatMap((f) => f.metrics)
      .find((m) => sameLabels(m.labels ?? {}, labels));
    return sample ? Number(sample.value) : 0;
  }

  /** Every label value of every series. */
  labelValues(): string[] {
    return this.series.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** A small real PNG, for the blur. */
function smallPng(): Promise<Buffer> {
  return sharp({
    create: { width: 64, height: 48, channels: 3, background: '#3366cc' },
  })
    .png()
    .toBuffer();
}

describe.each(DIALECTS)('metrics (%s)', (dialect) => {
  let t: TestApp;
  let token: string;

  beforeAll(async () => {
    // On local disk whatever the run's store: the sweep test ages a stored file by its mtime.
    t = await TestApp.start(dialect, { METRICS_TOKEN, STORAGE_DRIVER: 'local' });
    token = await t.adminToken();
  });
  afterAll(() => t.close());

  async function scrape(): Promise<Scrape> {
    const response = await t.http
      .get('/metrics')
      .auth(METRICS_TOKEN, { type: 'bearer' })
      .expect(200)
      .expect('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    return new Scrape(response.text);
  }

  it('refuses a scrape without the token, with a wrong one, or with a user token', async () => {
    const anonymous = await t.http.get('/metrics').expect(401);
    expect(anonymous.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.stringContaining('METRICS_TOKEN'),
    });
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    await t.http.get('/metrics').auth(`${METRICS_TOKEN}x`, { type: 'bearer' }).expect(401);
    await t.http.get('/metrics').auth(METRICS_TOKEN.slice(1), { type: 'bearer' }).expect(401);
    await t.http.get('/metrics').auth(token, { type: 'bearer' }).expect(401);
    await t.http.get('/metrics').auth('metrics', METRICS_TOKEN).expect(401); // Basic
  });

  it('counts real traffic by route template, method and status, in valid text format', async () => {
    const before = await scrape();

    const data = randomBytes(100_000);
    const { body: file } = await t.upload(token, data).expect(201);
    const download = await t.http
      .get(`/files/${file.id}/download`)
      .auth(token, { type: 'bearer' })
      .expect(200);
    expect(download.body).toEqual(data);
    await t.http.get(`/files/${randomUUID()}`).auth(token, { type: 'bearer' }).expect(404);
    await t.http.get(`/no-such-route/${randomUUID()}`).expect(404);
    const { body: image } = await t
      .upload(token, await smallPng(), { filename: 'small.png', contentType: 'image/png' })
      .expect(201);
    await t.http
      .post(`/files/${image.id}/blur?sigma=2`)
      .auth(token, { type: 'bearer' })
      .expect(201);
    // Bytes the registry names and the store lost: the store's read fails.
    const { body: lost } = await t.upload(token, randomBytes(10)).expect(201);
    await t.loseBytes(lost.id);
    await t.http.get(`/files/${lost.id}/download`).auth(token, { type: 'bearer' }).expect(404);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    const requests = 'files_http_requests_total';
    expect(moved(requests, { method: 'POST', route: '/files', status: '201' })).toBe(3);
    expect(moved(requests, { method: 'GET', route: '/files/:id/download', status: '200' })).toBe(1);
    expect(moved(requests, { method: 'GET', route: '/files/:id/download', status: '404' })).toBe(1);
    expect(moved(requests, { method: 'GET', route: '/files/:id', status: '404' })).toBe(1);
    expect(moved(requests, { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(moved(requests, { method: 'POST', route: '/files/:id/blur', status: '201' })).toBe(1);
    expect(
      moved('files_http_request_duration_seconds', {
        method: 'GET',
        route: '/files/:id/download',
        status: '200',
      }),
    ).toBe(1);
    // The connection's bytes, headers too: at least the bodies.
    expect(moved('files_http_sent_bytes_total', { route: '/files/:id/download' })).toBeGreaterThan(
      data.length,
    );
    expect(moved('files_http_received_bytes_total', { route: '/files' })).toBeGreaterThan(
      data.length,
    );

    const store = 'files_store_operation_duration_seconds';
    // Three uploads and the blurred image.
    expect(moved(store, { operation: 'write', outcome: 'ok' })).toBe(4);
    // The download and the blur's read of its image; the lost file's read failed.
    expect(moved(store, { operation: 'read', outcome: 'ok' })).toBe(2);
    expect(moved(store, { operation: 'read', outcome: 'error' })).toBe(1);
    const queries = 'files_db_query_duration_seconds';
    expect(moved(queries, { kind: 'insert', outcome: 'ok' })).toBeGreaterThanOrEqual(4);
    expect(moved(queries, { kind: 'select', outcome: 'ok' })).toBeGreaterThan(0);

    // The image gate, read from its state: nothing in use once the blur is over.
    expect(after.value('files_image_slots_in_use')).toBe(0);
    expect(after.value('files_image_slots_waiting')).toBe(0);
    expect(after.value('files_image_memory_reserved_bytes')).toBe(0);
    expect(after.value('files_image_memory_budget_bytes')).toBe(t.config.images.memoryBudgetBytes);
    expect(after.family('files_image_refused_total')?.type).toBe('COUNTER');
    // Node's own metrics.
    expect(after.value('files_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.family('files_nodejs_heap_size_used_bytes')?.type).toBe('GAUGE');

    // Bounded labels only: no id, and the scrapes themselves are not traffic.
    expect(after.labelValues().filter((value) => UUID.test(value))).toEqual([]);
    expect(after.labelValues()).not.toContain('/metrics');
  });

  it('shows the downloads and uploads in flight', async () => {
    const { body: file } = await t.upload(token, randomBytes(16 * 1024 * 1024)).expect(201);
    expect((await scrape()).value('files_downloads_in_flight')).toBe(0);

    // A download whose client reads nothing: its body waits in the socket buffers.
    const download = await new Promise<{ req: ClientRequest; res: IncomingMessage }>(
      (resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}/files/${file.id}/download`, {
          headers: { authorization: `Bearer ${token}` },
        });
        req.on('response', (res) => {
          res.pause();
          resolve({ req, res });
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(download.res.statusCode).toBe(200);
    expect((await scrape()).value('files_downloads_in_flight')).toBe(1);
    download.req.on('error', () => undefined);
    download.req.destroy();
    await eventually(
      async () => (await scrape()).value('files_downloads_in_flight') === 0,
      'the abandoned download is no longer in flight',
    );

    // An upload half-way.
    const upload = unfinishedUpload(t.baseUrl, token, 8 * 1024 * 1024, 256 * 1024);
    await eventually(
      async () => (await scrape()).value('files_uploads_in_flight') === 1,
      'the upload is in flight',
    );
    upload.destroy();
    await eventually(
      async () => (await scrape()).value('files_uploads_in_flight') === 0,
      'the aborted upload is no longer in flight',
    );
  });

  it('counts the audit events the database refused', async () => {
    const trail = t.app.get(AuditTrail);
    await trail.flush();
    const before = (await scrape()).value('files_audit_events_dropped_total');
    // The table goes away behind the service's back: the next batch insert fails.
    const db = t.app.get(Database);
    await sql`alter table audit_events rename to audit_events_away`.execute(db);
    try {
      await t.upload(token, Buffer.from('an upload the trail cannot record')).expect(201);
      await trail.flush();
    } finally {
      await sql`alter table audit_events_away rename to audit_events`.execute(db);
    }
    expect((await scrape()).value('files_audit_events_dropped_total')).toBe(before + 1);
    expect((await scrape()).value('files_audit_events_queued')).toBe(0);
  });

  it('counts sweeper runs and what they removed', async () => {
    const before = await scrape();
    // Bytes no registry entry names, old enough to go.
    const key = storageKeyOf(randomUUID());
    await t.app.get(FileStore).write(key, Readable.from([Buffer.from('an orphan')]));
    const old = new Date(Date.now() - 2 * t.config.sweeper.minAgeSeconds * 1000);
    await utimes(join(t.config.storageDir, 'files', key), old, old);
    const sweeper = t.app.get(StorageSweeper);
    await eventually(async () => (await sweeper.sweep()).orphanedFiles > 0, 'a sweep removing it');

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    expect(moved('files_sweeper_removed_total', { kind: 'orphanedFiles' })).toBe(1);
    expect(moved('files_sweeper_runs_total', { outcome: 'swept' })).toBeGreaterThanOrEqual(1);
  });
});

describe('metrics off (METRICS_TOKEN unset)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start('sqlite');
  });
  afterAll(() => t.close());

  it('documents GET /metrics under operations, with a security scheme of its own', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const operation = doc.paths['/metrics'].get;
    expect(operation.tags).toEqual(['operations']);
    expect(operation.security).toEqual([{ 'metrics-token': [] }]);
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '401', '404']);
    expect(doc.components.securitySchemes['metrics-token']).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
  });

  it('answers 404 to a scrape and measures nothing', async () => {
    const { body } = await t.http
      .get('/metrics')
      .auth(METRICS_TOKEN, { type: 'bearer' })
      .expect(404);
    expect(body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: expect.stringContaining('METRICS_TOKEN'),
    });
    const metrics = t.app.get(Metrics);
    expect(metrics.enabled).toBe(false);
    expect(await metrics.exposition()).toBe('');
  });
});
