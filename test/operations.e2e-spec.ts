import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import helmet from 'helmet';
import { HELMET_OPTIONS } from '../src/app.factory.js';
import { Database } from '../src/database/database.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp } from './support/test-app.js';

/** Headers of any response, not helmet's. */
const UNRELATED_HEADERS = [
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
];

describe.each(DIALECTS)('operations (%s)', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
  });
  afterAll(() => t.close());

  it('GET /health is public and 200 when the database and storage are usable', async () => {
    const { body } = await t.http.get('/health').expect(200);
    expect(body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, storage: { status: 'up' } },
    });
  });

  it('GET /health/ready is public and checks what /health checks', async () => {
    const { body } = await t.http.get('/health/ready').expect(200);
    expect(body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, storage: { status: 'up' } },
    });
  });

  it('GET /health/live is public and 200 without checking any dependency', async () => {
    const { body } = await t.http.get('/health/live').expect(200);
    expect(body).toEqual({ status: 'ok', info: {}, error: {}, details: {} });
  });

  it("answers an unknown route with a 404 in Nest's JSON shape", async () => {
    const { body } = await t.http.get('/no/such/route').expect(404).expect('Content-Type', /json/);
    expect(body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Cannot GET /no/such/route',
    });
  });

  it('echoes a well-formed X-Request-Id and replaces any other', async () => {
    await t.http
      .get('/health')
      .set('X-Request-Id', 'abc.DEF_123-x')
      .expect('X-Request-Id', 'abc.DEF_123-x');
    for (const bad of ['has space', 'a'.repeat(129), 'semi;colon', '']) {
      const response = await t.http.get('/health').set('X-Request-Id', bad);
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const unsent = await t.http.get('/no/such/route');
    expect(unsent.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends helmet's security headers, every one that helmet itself sends", async () => {
    // helmet with the service's options, on a bare node:http server: what it sets there, the
    // service must send too (it sets them from a list read off helmet at start-up).
    const bare = createServer((req, res) =>
      helmet(HELMET_OPTIONS)(req, res, () => res.end()),
    ).listen(0, '127.0.0.1');
    await once(bare, 'listening');
    const fromHelmet = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/`);
    await fromHelmet.arrayBuffer();
    await new Promise((closed) => bare.close(closed));
    const expected = Object.fromEntries(
      [...fromHelmet.headers].filter(([name]) => !UNRELATED_HEADERS.includes(name)),
    );
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(12);
    expect(expected['content-security-policy']).toContain("default-src 'self'");

    for (const path of ['/health', '/no/such/route']) {
      const response = await t.http.get(path);
      expect(response.headers).toMatchObject(expected);
      expect(response.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('serves Swagger UI at /docs and the OpenAPI document at /docs-json', async () => {
    const page = await t.http.get('/docs').expect(200).expect('Content-Type', /html/);
    expect(page.text).toContain('swagger-ui');
    const { body } = await t.http.get('/docs-json').expect(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(body.components.securitySchemes.bearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/auth/login',
        '/auth/me',
        '/auth/api-keys',
        '/auth/api-keys/{id}',
        '/admin/users',
        '/admin/users/{id}',
        '/admin/audit',
        '/health',
        '/health/live',
        '/health/ready',
        '/files',
        '/files/{id}',
        '/files/{id}/download',
        '/files/{id}/links',
        '/files/{id}/signed-download',
        '/images/blur',
        '/files/{id}/blur',
      ]),
    );
    for (const schema of [
      'LoginDto',
      'TokenDto',
      'MeDto',
      'CreateUserDto',
      'UpdateUserDto',
      'UserDto',
      'ErrorDto',
      'CreateApiKeyDto',
      'CreatedApiKeyDto',
      'ApiKeyListDto',
      'AuditEventListDto',
    ]) {
      expect(body.components.schemas[schema]).toBeDefined();
    }
    expect(body.paths['/auth/me'].get.security).toEqual([{ bearer: [] }]);
    expect(body.paths['/auth/login'].post.security).toBeUndefined();
    // What an API key needs, operation by operation.
    expect(body.paths['/files'].get['x-required-scopes']).toEqual(['files:read']);
    expect(body.paths['/files/{id}/download'].get['x-required-scopes']).toEqual(['files:read']);
    expect(body.paths['/files/{id}/blur'].post['x-required-scopes']).toEqual([
      'images',
      'files:read',
      'files:write',
    ]);
    expect(body.paths['/auth/api-keys'].post['x-required-scopes']).toBeUndefined();
    expect(Object.keys(body.paths['/files/{id}/download']).sort()).toEqual(['get', 'head']);
    expect(body.paths['/files/{id}/signed-download'].get.security).toBeUndefined();
    expect(Object.keys(body.paths['/files'].post.requestBody.content).sort()).toEqual([
      'application/octet-stream',
      'multipart/form-data',
    ]);
    expect(body.paths['/files'].post.parameters).toEqual([
      expect.objectContaining({ name: 'expiresIn', in: 'query', required: false }),
      expect.objectContaining({ name: 'filename', in: 'query', required: false }),
    ]);
    expect(
      body.paths['/images/blur'].post.requestBody.content['multipart/form-data'],
    ).toBeDefined();
    expect(Object.keys(body.paths['/images/blur'].post.responses)).toEqual(
      expect.arrayContaining(['200', '400', '413', '415', '422', '503']),
    );
  });
});

describe.each(DIALECTS)('/health when a dependency is down (%s)', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.start(dialect);
  });
  afterEach(() => t.close());

  it('is 503 when the store cannot take files', async () => {
    if (t.config.storage.driver === 'local') {
      // A file where the staging folder belongs: nothing can be created there, even by root.
      await rm(join(t.config.storageDir, 'tmp'), { recursive: true, force: true });
      await writeFile(join(t.config.storageDir, 'tmp'), 'not a folder');
    } else {
      // A bucket that does not exist.
      await t.close();
      t = await TestApp.start(dialect, { S3_BUCKET: 'no-such-bucket-here' });
    }
    for (const path of ['/health', '/health/ready']) {
      const { body } = await t.http.get(path).expect(503);
      expect(body).toMatchObject({
        statusCode: 503,
        error: 'Service Unavailable',
        details: { storage: { status: 'down' }, database: { status: 'up' } },
      });
    }
    // A restart would not mend the disk: the process itself is still live.
    await t.http.get('/health/live').expect(200);
  });

  it('is 503 when the database is gone', async () => {
    await t.app.get(Database).destroy();
    for (const path of ['/health', '/health/ready']) {
      const { body } = await t.http.get(path).expect(503);
      expect(body).toMatchObject({ statusCode: 503, details: { database: { status: 'down' } } });
    }
    await t.http.get('/health/live').expect(200);
  });
});
