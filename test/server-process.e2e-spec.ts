import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase, DIALECTS, type TestDatabase } from './support/test-database.js';
import { runNode, ServerProcess } from './support/server-process.js';

/** The built server as operators run it: configuration, first start, logs, shutdown. */
describe('configuration errors stop start-up', () => {
  const start = (env: Record<string, string>) =>
    runNode('dist/main.js', [], { STORAGE_DIR: tmpdir(), ...env });

  it.each([
    [{ PORT: 'abc' }, ['PORT must be an integer from 1 to 65535 (got "abc")']],
    [
      { DATABASE_URL: 'mysql://x' },
      [
        'DATABASE_URL must be a postgres:// (or postgresql://) URL, or sqlite:<path> (got "mysql://x")',
      ],
    ],
    [
      { PORT: '70000', MAX_UPLOAD_BYTES: '1e9', LOG_LEVEL: 'loud' },
      [
        'PORT must be an integer from 1 to 65535 (got "70000")',
        'MAX_UPLOAD_BYTES must be a positive integer (bytes) (got "1e9")',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      ],
    ],
    [{ NODE_ENV: 'production' }, ['JWT_SECRET is required when NODE_ENV=production']],
    [{ JWT_SECRET: 'too-short' }, ['JWT_SECRET must be at least 32 bytes (value hidden)']],
    [{ ADMIN_PASSWORD: 'short' }, ['ADMIN_PASSWORD must be at least 12 characters (value hidden)']],
  ])('%j: one line per problem, exit 1', async (env, problems) => {
    const { code, stdout, stderr } = await start(env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual(problems.map((p) => `Invalid configuration: ${p}`));
  });

  it('never echoes a password from DATABASE_URL', async () => {
    const { code, stderr } = await start({ DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(code).toBe(1);
    expect(stderr).not.toContain('hunter2');
  });
});

describe.each(DIALECTS)('the server process (%s)', (dialect) => {
  let storageDir: string;
  let database: TestDatabase;
  let server: ServerProcess | undefined;
  let env: Record<string, string>;
  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'file-service-process-'));
    database = await createTestDatabase(dialect);
    env = { STORAGE_DIR: storageDir, ...database.env };
  });
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await database.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  it('creates the admin on first start, prints its password once, and keeps its JWT secret', async () => {
    server = await ServerProcess.start(env);
    // Lines are written in batches, a moment after they are logged.
    await server.waitForLogLine((l) => String(l.msg).includes('generated password'));
    const line = server.logLines.find((l) => String(l.msg).includes('generated password'));
    const password = /generated password (\S+)/.exec(String(line?.msg))![1];
    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    const { access_token: token } = (await login.json()) as { access_token: string };
    if (dialect === 'sqlite') {
      expect(statSync(join(storageDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      expect(server.log).toContain('JWT_SECRET is not set');
    } else {
      // PostgreSQL requires JWT_SECRET: no instance generates one of its own.
      expect(existsSync(join(storageDir, 'jwt-secret'))).toBe(false);
    }
    expect((await server.stop()).code).toBe(0);

    server = await ServerProcess.start(env);
    expect(server.log).not.toContain(password);
    const me = await fetch(`${server.baseUrl}/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.status).toBe(200);
  });

  it('logs one JSON line per request, with its request id and without credentials', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    server = await ServerProcess.start({ ...env, ADMIN_PASSWORD: password });
    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'login-1' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    await fetch(`${server.baseUrl}/auth/me`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'me-1' },
    });
    await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bad-json-1' },
      body: '{"username": ',
    });
    await server.waitForLogLine((l) => l.reqId === 'bad-json-1');
    const requests = server.logLines.filter(
      (l) => l.req && (l.req as { url: string }).url !== '/health',
    );
    expect(requests.map((l) => [l.reqId, (l.res as { statusCode: number }).statusCode])).toEqual([
      ['login-1', 200],
      ['me-1', 200],
      ['bad-json-1', 400],
    ]);
    expect(server.log).not.toContain(password);
    expect(server.log).not.toContain(token);
    expect(server.log).not.toContain(token.split('.')[2]);
  });

  it('serves a download measured, audited and logged without a listener leak warning', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    server = await ServerProcess.start({
      ...env,
      ADMIN_PASSWORD: password,
      METRICS_TOKEN: 'a-metrics-token-for-the-tests',
    });
    const login = await fetch(`${server.baseUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const form = new FormData();
    form.append('file', new Blob([randomBytes(4096)]), 'small.bin');
    const upload = await fetch(`${server.baseUrl}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    });
    const { id } = (await upload.json()) as { id: string };
    const download = await fetch(`${server.baseUrl}/files/${id}/download`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'download-1' },
    });
    expect(download.status).toBe(200);
    await download.arrayBuffer();
    await server.waitForLogLine((l) => l.reqId === 'download-1');
    // A response's listeners past Node's default of 10 printed a warning for every download.
    expect(server.log).not.toContain('MaxListenersExceededWarning');
  });

  it('writes the log lines of the requests answered just before SIGTERM', async () => {
    server = await ServerProcess.start(env);
    const ids = Array.from({ length: 20 }, (_, i) => `last-${i}`);
    await Promise.all(
      ids.map((id) =>
        fetch(`${server!.baseUrl}/health/live`, { headers: { 'x-request-id': id } }).then((r) =>
          r.text(),
        ),
      ),
    );
    expect((await server.stop('SIGTERM')).code).toBe(0);
    const logged = server.logLines.map((l) => l.reqId);
    expect(logged).toEqual(expect.arrayContaining(ids));
  });

  it('writes human-readable lines with LOG_FORMAT=pretty (what a terminal gets by default)', async () => {
    server = await ServerProcess.start({ ...env, LOG_FORMAT: 'pretty' });
    await fetch(`${server.baseUrl}/health/live`, { headers: { 'x-request-id': 'pretty-1' } });
    expect((await server.stop('SIGTERM')).code).toBe(0);
    const line = server.log.split('\n').find((l) => l.includes('pretty-1'));
    expect(line).toMatch(/INFO.*GET \/health\/live 200 \d+ms/);
    expect(server.log.split('\n').filter((l) => l.startsWith('{'))).toEqual([]);
  });

  it('on SIGTERM lets the in-flight request finish, closes the database and exits 0', async () => {
    const applicationName = `shutdown-${randomBytes(4).toString('hex')}`;
    const url = database.url ? new URL(database.url) : undefined;
    url?.searchParams.set('application_name', applicationName);
    const password = 'admin-password-for-shutdown';
    server = await ServerProcess.start({
      ...env,
      ADMIN_PASSWORD: password,
      ...(url && { DATABASE_URL: url.toString() }),
    });
    const body = JSON.stringify({ username: 'admin', password });

    // A login whose body is still on its way when the signal arrives.
    const response = new Promise<{ status: number; body: string }>((done, fail) => {
      const req = httpRequest(`${server!.baseUrl}/auth/login`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          expect: '100-continue',
        },
      });
      req.once('continue', () => {
        // The server has read the headers: the request is in flight.
        req.write(body.slice(0, 10));
        void server!.stop('SIGTERM').then(() => undefined);
        setTimeout(() => req.end(body.slice(10)), 300);
      });
      req.once('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.once('end', () => done({ status: res.statusCode!, body: text }));
      });
      req.once('error', fail);
    });

    const answered = await response;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toMatchObject({ token_type: 'Bearer' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    if (dialect === 'sqlite') {
      // better-sqlite3 checkpoints and removes the write-ahead log when the database is closed.
      expect(existsSync(join(storageDir, 'registry.sqlite-wal'))).toBe(false);
    } else {
      const client = new pg.Client(process.env.TEST_DATABASE_URL);
      await client.connect();
      const { rows } = await client.query<{ count: string }>(
        'select count(*) from pg_stat_activity where application_name = $1',
        [applicationName],
      );
      await client.end();
      expect(Number(rows[0].count)).toBe(0);
    }
  });
});
