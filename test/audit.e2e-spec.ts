import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { sql } from 'kysely';
import sharp from 'sharp';
import { AuditTrail } from '../src/audit/audit-trail.js';
import { Database } from '../src/database/database.js';
import { StorageSweeper } from '../src/files/storage-sweeper.js';
import { storageEnvOf, TestBucket } from './support/s3.js';
import { runNode } from './support/server-process.js';
import { eventually } from './support/storage.js';
import { DIALECTS, SHARED_JWT_SECRET } from './support/test-database.js';
import { ADMIN, TestApp, type TestUser } from './support/test-app.js';
import { TUS } from './support/tus-client.js';

/** An event as GET /admin/audit lists it. */
interface Listed {
  id: number;
  at: string;
  action: string;
  actor: { kind: string; id: string | null };
  fileId: string | null;
  clientAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  range: { start: number; end: number } | null;
  bytesSent: number | null;
  details: Record<string, unknown> | null;
}

/** The address supertest and node:http connect from, as Express reports it. */
const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$/;

describe.each(DIALECTS)('audit trail (%s)', (dialect) => {
  let t: TestApp;
  let adminToken: string;
  let adminId: string;
  let alice: TestUser;

  beforeAll(async () => {
    t = await TestApp.start(dialect);
    adminToken = await t.adminToken();
    const { body } = await t.http.get('/auth/me').auth(adminToken, { type: 'bearer' });
    adminId = body.id as string;
    alice = await t.createUser('user', adminToken);
  });
  afterAll(() => t.close());

  /** Every event matching `query` (newest first), once what was recorded so far is written. */
  async function listed(query: Record<string, string> = {}, app = t): Promise<Listed[]> {
    await app.app.get(AuditTrail).flush();
    const { body } = await app.http
      .get('/admin/audit')
      .query({ limit: '1000', ...query })
      .auth(adminToken, { type: 'bearer' })
      .expect(200);
    return body.items as Listed[];
  }

  /** The events of request `requestId`: an audited request leaves exactly one. */
  async function eventsOf(requestId: string): Promise<Listed[]> {
    return (await listed()).filter((event) => event.requestId === requestId);
  }

  /** A request id and user agent of their own for each request, to find its event by. */
  function tagged() {
    const requestId = `audit-${randomUUID()}`;
    const userAgent = `audit-test/${requestId}`;
    return {
      requestId,
      userAgent,
      headers: { 'X-Request-Id': requestId, 'User-Agent': userAgent },
    };
  }

  async function uploaded(token: string, data: Buffer, filename = 'file.bin'): Promise<string> {
    const { body } = await t.upload(token, data, { filename }).expect(201);
    return body.id as string;
  }

  /** Expects exactly one event of `requestId`, by `actor`, and returns it. */
  async function theOneEvent(
    tag: { requestId: string; userAgent: string },
    expected: Partial<Listed>,
  ): Promise<Listed> {
    const events = await eventsOf(tag.requestId);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      requestId: tag.requestId,
      userAgent: tag.userAgent,
      clientAddress: expect.stringMatching(LOOPBACK),
      ...expected,
    });
    return events[0];
  }

  describe('records each action once', () => {
    it('a login that succeeds, and one that fails under the name tried', async () => {
      const ok = tagged();
      await t.http
        .post('/auth/login')
        .set(ok.headers)
        .send({ username: alice.username, password: alice.password })
        .expect(200);
      await theOneEvent(ok, {
        action: 'auth.login.succeeded',
        actor: { kind: 'user', id: alice.id },
        fileId: null,
      });

      const bad = tagged();
      await t.http
        .post('/auth/login')
        .set(bad.headers)
        .send({ username: 'mallory', password: 'not-the-password' })
        .expect(401);
      const failed = await theOneEvent(bad, {
        action: 'auth.login.failed',
        actor: { kind: 'username', id: 'mallory' },
      });
      expect(failed.details).toEqual({ reason: 'credentials' });

      // The client chooses its user agent: the trail keeps 512 characters of it.
      const long = { ...tagged(), userAgent: 'x'.repeat(2000) };
      await t.http
        .post('/auth/login')
        .set({ 'X-Request-Id': long.requestId, 'User-Agent': long.userAgent })
        .send({ username: 'mallory', password: 'not-the-password' })
        .expect(401);
      const [truncated] = await eventsOf(long.requestId);
      expect(truncated.userAgent).toBe('x'.repeat(512));
    });

    it('a multipart upload, a raw-body upload and a finished tus upload', async () => {
      const multipart = tagged();
      const { body: one } = await t
        .upload(alice.token, Buffer.from('multipart bytes'), { filename: 'one.txt' })
        .set(multipart.headers)
        .expect(201);
      await theOneEvent(multipart, {
        action: 'file.uploaded',
        actor: { kind: 'user', id: alice.id },
        fileId: one.id,
        details: { filename: 'one.txt', size: 15, ownerId: alice.id },
      });

      const raw = tagged();
      const { body: two } = await t.http
        .post('/files?filename=two.bin')
        .auth(alice.token, { type: 'bearer' })
        .set(raw.headers)
        .set('Content-Type', 'application/octet-stream')
        .send(randomBytes(1000))
        .expect(201);
      await theOneEvent(raw, {
        action: 'file.uploaded',
        actor: { kind: 'user', id: alice.id },
        fileId: two.id,
      });

      const tus = tagged();
      const data = randomBytes(2000);
      const created = await t.http
        .post('/files/uploads')
        .auth(alice.token, { type: 'bearer' })
        .set(TUS)
        .set(tus.headers)
        .set('Upload-Length', String(data.length))
        .set('Content-Type', 'application/offset+octet-stream')
        .send(data)
        .expect(201);
      const status = await t.http
        .head(new URL(created.headers.location, t.baseUrl).pathname)
        .auth(alice.token, { type: 'bearer' })
        .set(TUS)
        .expect(200);
      const fileId = status.headers['file-id'];
      expect(fileId).toMatch(/^[0-9a-f-]{36}$/);
      await theOneEvent(tus, {
        action: 'file.uploaded',
        actor: { kind: 'user', id: alice.id },
        fileId,
        details: { size: 2000, resumable: true, filename: 'file', ownerId: alice.id },
      });
    });

    it('a download: its whole range and every byte, or the range asked for', async () => {
      const id = await uploaded(alice.token, randomBytes(10_000));
      const whole = tagged();
      await t.http
        .get(`/files/${id}/download`)
        .auth(alice.token, { type: 'bearer' })
        .set(whole.headers)
        .expect(200);
      // Recorded when the response closes, which may be just after the client has it all.
      await eventually(async () => (await eventsOf(whole.requestId)).length > 0, 'the event');
      await theOneEvent(whole, {
        action: 'file.downloaded',
        actor: { kind: 'user', id: alice.id },
        fileId: id,
        range: { start: 0, end: 9999 },
        bytesSent: 10_000,
      });

      const ranged = tagged();
      await t.http
        .get(`/files/${id}/download`)
        .auth(alice.token, { type: 'bearer' })
        .set(ranged.headers)
        .set('Range', 'bytes=100-1099')
        .expect(206);
      await eventually(async () => (await eventsOf(ranged.requestId)).length > 0, 'the event');
      await theOneEvent(ranged, {
        action: 'file.downloaded',
        fileId: id,
        range: { start: 100, end: 1099 },
        bytesSent: 1000,
      });

      // No bytes, no download: a HEAD and a 304 are not recorded.
      const head = tagged();
      await t.http
        .head(`/files/${id}/download`)
        .auth(alice.token, { type: 'bearer' })
        .set(head.headers)
        .expect(200);
      expect(await eventsOf(head.requestId)).toEqual([]);
    });

    it('a download the client abandons: the bytes that really went out', async () => {
      const size = 40 * 2 ** 20;
      const id = await uploaded(alice.token, randomBytes(size), 'large.bin');
      const tag = tagged();
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}/files/${id}/download`, {
          headers: { authorization: `Bearer ${alice.token}`, ...tag.headers },
        });
        req.on('error', () => undefined); // the destroy below
        req.on('response', (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          // A slow reader: a MiB, then it goes away.
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received >= 2 ** 20) {
              req.destroy();
              resolve();
            }
          });
        });
        req.end();
      });
      await eventually(async () => (await eventsOf(tag.requestId)).length > 0, 'the event');
      const event = await theOneEvent(tag, {
        action: 'file.downloaded',
        fileId: id,
        range: { start: 0, end: size - 1 },
      });
      expect(event.bytesSent).toBeGreaterThanOrEqual(received);
      expect(event.bytesSent).toBeLessThan(size);
    });

    it('a signed link made, and used: by the link, with its range and bytes', async () => {
      const id = await uploaded(alice.token, Buffer.from('shared by link'));
      const made = tagged();
      const { body: link } = await t.http
        .post(`/files/${id}/links`)
        .auth(alice.token, { type: 'bearer' })
        .set(made.headers)
        .send({ expiresIn: 600 })
        .expect(201);
      const creation = await theOneEvent(made, {
        action: 'link.created',
        actor: { kind: 'user', id: alice.id },
        fileId: id,
      });
      const linkId = creation.details!.linkId as string;
      expect(linkId).toMatch(/^[0-9a-f]{32}$/);
      expect(creation.details!.expiresAt).toBe(link.expiresAt);

      const used = tagged();
      const url = new URL(link.url as string);
      await t.http
        .get(url.pathname + url.search)
        .set(used.headers)
        .expect(200);
      await eventually(async () => (await eventsOf(used.requestId)).length > 0, 'the event');
      const use = await theOneEvent(used, {
        action: 'link.used',
        actor: { kind: 'link', id: linkId },
        fileId: id,
        range: { start: 0, end: 13 },
        bytesSent: 14,
      });
      // The signature downloads the file: it is never in the trail.
      const signature = url.searchParams.get('signature')!;
      expect(JSON.stringify([creation, use])).not.toContain(signature);
    });

    it('a delete', async () => {
      const id = await uploaded(alice.token, Buffer.from('to be deleted'));
      const tag = tagged();
      await t.http
        .delete(`/files/${id}`)
        .auth(alice.token, { type: 'bearer' })
        .set(tag.headers)
        .expect(204);
      await theOneEvent(tag, {
        action: 'file.deleted',
        actor: { kind: 'user', id: alice.id },
        fileId: id,
      });
    });

    it('a user deleted with their files: the user, and each file as a delete of its own', async () => {
      const owner = await t.createUser('user', adminToken);
      const ids = [
        await uploaded(owner.token, Buffer.from('first of two')),
        await uploaded(owner.token, Buffer.from('second of two')),
      ];
      const tag = tagged();
      await t.http
        .delete(`/admin/users/${owner.id}?deleteFiles=true`)
        .auth(adminToken, { type: 'bearer' })
        .set(tag.headers)
        .expect(204);
      const events = await eventsOf(tag.requestId);
      const scene = {
        actor: { kind: 'user', id: adminId },
        requestId: tag.requestId,
        userAgent: tag.userAgent,
      };
      expect(events).toHaveLength(3);
      expect(events.filter((event) => event.action === 'user.deleted')).toEqual([
        expect.objectContaining({
          ...scene,
          details: expect.objectContaining({ userId: owner.id }),
        }),
      ]);
      const files = events.filter((event) => event.action === 'file.deleted');
      expect(files.map((event) => event.fileId).sort()).toEqual([...ids].sort());
      for (const event of files) {
        expect(event).toMatchObject({
          ...scene,
          details: { ownerId: owner.id, withAccount: true },
        });
      }
    });

    it('a blur into a new file, which is not also an upload', async () => {
      const png = await sharp({
        create: { width: 64, height: 48, channels: 3, background: '#3366cc' },
      })
        .png()
        .toBuffer();
      const source = await uploaded(alice.token, png, 'photo.png');
      const tag = tagged();
      const { body: blurred } = await t.http
        .post(`/files/${source}/blur`)
        .auth(alice.token, { type: 'bearer' })
        .set(tag.headers)
        .expect(201);
      await theOneEvent(tag, {
        action: 'image.blurred',
        actor: { kind: 'user', id: alice.id },
        fileId: blurred.id,
        details: { sourceFileId: source, size: blurred.size },
      });
    });

    it('a user created, changed and deleted by an admin', async () => {
      const created = tagged();
      const { body: user } = await t.http
        .post('/admin/users')
        .auth(adminToken, { type: 'bearer' })
        .set(created.headers)
        .send({ username: 'bob', password: 'bobs-long-password', role: 'user' })
        .expect(201);
      await theOneEvent(created, {
        action: 'user.created',
        actor: { kind: 'user', id: adminId },
        details: { userId: user.id, username: 'bob', role: 'user' },
      });

      const changed = tagged();
      await t.http
        .patch(`/admin/users/${user.id}`)
        .auth(adminToken, { type: 'bearer' })
        .set(changed.headers)
        .send({ role: 'admin' })
        .expect(200);
      await theOneEvent(changed, {
        action: 'user.updated',
        actor: { kind: 'user', id: adminId },
        details: { userId: user.id, passwordChanged: false, role: 'admin' },
      });

      // A quota and a default lifetime changed at once: one event names both.
      const limited = tagged();
      await t.http
        .patch(`/admin/users/${user.id}`)
        .auth(adminToken, { type: 'bearer' })
        .set(limited.headers)
        .send({ quotaBytes: 1_000_000, quotaFiles: 'unlimited', defaultFileTtlSeconds: 3600 })
        .expect(200);
      await theOneEvent(limited, {
        action: 'user.updated',
        actor: { kind: 'user', id: adminId },
        details: {
          userId: user.id,
          passwordChanged: false,
          role: 'admin',
          defaultFileTtlSeconds: 3600,
          quotaBytes: 1_000_000,
          quotaFiles: 'unlimited',
        },
      });

      const deleted = tagged();
      await t.http
        .delete(`/admin/users/${user.id}`)
        .auth(adminToken, { type: 'bearer' })
        .set(deleted.headers)
        .expect(204);
      await theOneEvent(deleted, {
        action: 'user.deleted',
        actor: { kind: 'user', id: adminId },
        details: { userId: user.id, username: 'bob', role: 'admin' },
      });
    });
  });

  describe('GET /admin/audit', () => {
    let carol: TestUser;
    let fileIds: string[];
    beforeAll(async () => {
      carol = await t.createUser('user', adminToken);
      fileIds = [];
      for (let i = 0; i < 5; i++) fileIds.push(await uploaded(carol.token, Buffer.from(`c${i}`)));
    });

    it('filters by acting user, file and action', async () => {
      const byCarol = await listed({ userId: carol.id, action: 'file.uploaded' });
      expect(byCarol.map((e) => e.fileId)).toEqual([...fileIds].reverse());
      expect(byCarol.every((e) => e.actor.id === carol.id)).toBe(true);

      const ofFile = await listed({ fileId: fileIds[2] });
      expect(ofFile.map((e) => e.action)).toEqual(['file.uploaded']);

      const logins = await listed({ userId: carol.id });
      expect(logins.map((e) => e.action).sort()).toEqual([
        'auth.login.succeeded',
        ...Array<string>(5).fill('file.uploaded'),
      ]);
    });

    it('filters by time: since is inclusive, until exclusive', async () => {
      const all = await listed({ userId: carol.id, action: 'file.uploaded' });
      const oldest = all.at(-1)!;
      const newest = all[0];
      const within = await listed({
        userId: carol.id,
        action: 'file.uploaded',
        since: oldest.at,
        until: newest.at,
      });
      expect(within.map((e) => e.id)).toEqual(
        all.filter((e) => e.at >= oldest.at && e.at < newest.at).map((e) => e.id),
      );
      expect(within.map((e) => e.id)).not.toContain(newest.id);
      expect(await listed({ userId: carol.id, since: '2999-01-01T00:00:00Z' })).toEqual([]);
    });

    it('pages newest first, each event once', async () => {
      const all = await listed({ userId: carol.id });
      const seen: number[] = [];
      let cursor: string | undefined;
      do {
        const { body } = await t.http
          .get('/admin/audit')
          .query({ userId: carol.id, limit: '2', ...(cursor && { cursor }) })
          .auth(adminToken, { type: 'bearer' })
          .expect(200);
        expect(body.items.length).toBeLessThanOrEqual(2);
        seen.push(...(body.items as Listed[]).map((e) => e.id));
        cursor = body.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual(all.map((e) => e.id));
      expect([...seen].sort((a, b) => b - a)).toEqual(seen);
    });

    it('is for admins only, and refuses malformed filters', async () => {
      await t.http.get('/admin/audit').auth(carol.token, { type: 'bearer' }).expect(403);
      await t.http.get('/admin/audit').expect(401);
      for (const query of [
        { userId: 'nope' },
        { action: 'file.stolen' },
        { since: 'yesterday' },
        { limit: '0' },
        { cursor: 'abc' },
      ]) {
        const { body } = await t.http
          .get('/admin/audit')
          .query(query)
          .auth(adminToken, { type: 'bearer' })
          .expect(400);
        expect(body.message).toEqual(expect.anything());
      }
    });
  });

  it('is shared by the instances: an event written by one is listed by the other', async () => {
    const beside = await TestApp.startBeside(t);
    try {
      const token = await beside.login(alice.username, alice.password);
      const { body } = await beside.upload(token, Buffer.from('through b')).expect(201);
      await beside.app.get(AuditTrail).flush();
      const events = await listed({ fileId: body.id as string });
      expect(events).toMatchObject([{ action: 'file.uploaded', actor: { id: alice.id } }]);
    } finally {
      await beside.close();
    }
  });

  it('writes what is queued when the server stops', async () => {
    const beside = await TestApp.startBeside(t);
    let fileId: string;
    try {
      const token = await beside.login(alice.username, alice.password);
      ({
        body: { id: fileId },
      } = await beside.upload(token, Buffer.from('just before the stop')).expect(201));
    } finally {
      // No flush: the graceful stop writes it.
      await beside.close();
    }
    expect(await listed({ fileId })).toMatchObject([{ action: 'file.uploaded' }]);
  });

  it('keeps serving while the database refuses the events, and counts what it dropped', async () => {
    const db = t.app.get(Database);
    const trail = t.app.get(AuditTrail);
    await trail.flush();
    const droppedBefore = trail.droppedEvents;
    // The table goes away behind the service's back: every insert of a batch fails.
    await sql`alter table audit_events rename to audit_events_away`.execute(db);
    let lost: string;
    try {
      ({
        body: { id: lost },
      } = await t.upload(alice.token, Buffer.from('unrecorded upload')).expect(201));
      await t.http.delete(`/files/${lost}`).auth(alice.token, { type: 'bearer' }).expect(204);
      await trail.flush();
      expect(trail.droppedEvents).toBe(droppedBefore + 2);
    } finally {
      await sql`alter table audit_events_away rename to audit_events`.execute(db);
    }
    const { body: kept } = await t.upload(alice.token, Buffer.from('recorded')).expect(201);
    expect(await listed({ fileId: kept.id as string })).toMatchObject([
      { action: 'file.uploaded' },
    ]);
    expect(await listed({ fileId: lost })).toEqual([]);
    expect(trail.droppedEvents).toBe(droppedBefore + 2);
  });

  it('removes events older than AUDIT_RETENTION_DAYS in a sweep, and keeps the others', async () => {
    const db = t.app.get(Database);
    const day = 86_400_000;
    const row = (ageDays: number, requestId: string) => ({
      at: Date.now() - ageDays * day,
      action: 'file.deleted',
      actorKind: 'system',
      requestId,
    });
    const old = `old-${randomUUID()}`;
    const recent = `recent-${randomUUID()}`;
    // Default retention: 90 days.
    await db
      .insertInto('auditEvents')
      .values([row(91, old), row(91, old), row(89, recent)])
      .execute();
    const sweeper = t.app.get(StorageSweeper);
    // A pass already running (the one at start-up) may have begun before the rows went in.
    await eventually(async () => {
      await sweeper.sweep();
      return (await eventsOf(old)).length === 0;
    }, 'a sweep removed the old events');
    expect(await eventsOf(recent)).toHaveLength(1);
  });

  it('exports JSON lines with the CLI, and records what the CLI does as the CLI', async () => {
    const env = {
      STORAGE_DIR: t.config.storageDir,
      JWT_SECRET: t.config.jwt.secret,
      ...(t.config.database.dialect === 'postgres' && { DATABASE_URL: t.config.database.url }),
    };
    const cli = (args: string[], stdin = '') => runNode('dist/cli.js', args, env, stdin);
    const created = await cli(['users:create', 'dave'], 'daves-long-password\n');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const limited = await cli(['users:set-quota', 'dave', '--files', '10']);
    expect(limited).toMatchObject({ code: 0, stderr: '' });

    const exported = await cli(['audit:export', '--since', '1h']);
    expect(exported).toMatchObject({ code: 0, stderr: '' });
    const lines = exported.stdout.trimEnd().split('\n');
    const events = lines.map((line) => JSON.parse(line) as Listed);
    // Oldest first, each once, the same events the API lists.
    const ids = events.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    expect(ids).toEqual((await listed({ since })).map((e) => e.id).reverse());
    expect(
      events.filter((e) => e.action === 'user.created' && e.details?.username === 'dave'),
    ).toMatchObject([{ actor: { kind: 'cli', id: null }, requestId: null, clientAddress: null }]);
    const daveId = events.find((e) => e.details?.username === 'dave')?.details?.userId;
    expect(
      events.filter((e) => e.action === 'user.updated' && e.details?.userId === daveId),
    ).toMatchObject([{ actor: { kind: 'cli', id: null }, details: { quotaFiles: 10 } }]);

    // Only the event the retention test left, 89 days old, is more than a week old.
    const until = await cli(['audit:export', '--since', '2000-01-01T00:00:00Z', '--until', '7d']);
    expect(until).toMatchObject({ code: 0, stderr: '' });
    expect(
      until.stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Listed),
    ).toEqual([expect.objectContaining({ requestId: expect.stringMatching(/^recent-/) })]);
    const bad = await cli(['audit:export', '--since', 'last tuesday']);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('--since must be') });
    const missing = await cli(['audit:export']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: --since is missing\n' });
  });
});

describe.each(DIALECTS)('audit trail of presigned downloads (%s)', (dialect) => {
  it('records the redirect as the download, without bytes it cannot see', async () => {
    const bucket = new TestBucket();
    const t = await TestApp.start(dialect, {
      JWT_SECRET: SHARED_JWT_SECRET,
      ...storageEnvOf(bucket),
      DOWNLOAD_REDIRECT: 'presigned',
    });
    try {
      const token = await t.adminToken();
      const { body } = await t.upload(token, randomBytes(5000)).expect(201);
      const requestId = `audit-${randomUUID()}`;
      await t.http
        .get(`/files/${body.id}/download`)
        .auth(token, { type: 'bearer' })
        .set('X-Request-Id', requestId)
        .redirects(0)
        .expect(302);
      await t.app.get(AuditTrail).flush();
      const { body: page } = await t.http
        .get('/admin/audit')
        .query({ fileId: body.id as string, action: 'file.downloaded' })
        .auth(token, { type: 'bearer' })
        .expect(200);
      expect(page.items).toMatchObject([
        {
          requestId,
          range: { start: 0, end: 4999 },
          bytesSent: null,
          details: { presigned: true },
        },
      ]);
    } finally {
      await t.close();
      await bucket.cleanup();
    }
  });
});

describe.each(DIALECTS)('audit trail behind a proxy (%s)', (dialect) => {
  it("names the client a trusted proxy forwarded for, else the connection's address", async () => {
    const direct = await TestApp.start(dialect, { JWT_SECRET: SHARED_JWT_SECRET });
    const proxied = await TestApp.startBeside(direct, { TRUST_PROXY: '1' });
    try {
      const token = await direct.adminToken();
      const { body } = await direct.upload(token, randomBytes(100)).expect(201);
      const addressOf = async (app: TestApp, forwardedFor?: string) => {
        const requestId = `audit-${randomUUID()}`;
        const download = app.http
          .get(`/files/${body.id}/download`)
          .auth(token, { type: 'bearer' })
          .set('X-Request-Id', requestId);
        if (forwardedFor !== undefined) download.set('X-Forwarded-For', forwardedFor);
        await download.expect(200);
        let events: { requestId: string; clientAddress: string }[] = [];
        await eventually(async () => {
          await app.app.get(AuditTrail).flush();
          const { body: page } = await direct.http
            .get('/admin/audit')
            .query({ fileId: body.id as string, action: 'file.downloaded' })
            .auth(token, { type: 'bearer' })
            .expect(200);
          events = (page.items as typeof events).filter((event) => event.requestId === requestId);
          return events.length > 0;
        }, 'the event');
        expect(events).toHaveLength(1);
        return events[0].clientAddress;
      };
      expect(await addressOf(proxied, '203.0.113.7')).toBe('203.0.113.7');
      expect(await addressOf(proxied)).toMatch(LOOPBACK);
      // Not trusted: a client may claim any address in the header.
      expect(await addressOf(direct, '203.0.113.7')).toMatch(LOOPBACK);
    } finally {
      await proxied.close();
      await direct.close();
    }
  });
});

describe.each(DIALECTS)('audit trail switched off (%s)', (dialect) => {
  it('records nothing with AUDIT_ENABLED=false', async () => {
    const t = await TestApp.start(dialect, { AUDIT_ENABLED: 'false' });
    try {
      const token = await t.login(ADMIN.username, ADMIN.password);
      const { body } = await t.upload(token, Buffer.from('unrecorded')).expect(201);
      await t.http.get(`/files/${body.id}/download`).auth(token, { type: 'bearer' }).expect(200);
      await t.app.get(AuditTrail).flush();
      const { body: page } = await t.http
        .get('/admin/audit')
        .auth(token, { type: 'bearer' })
        .expect(200);
      expect(page).toEqual({ items: [], nextCursor: null });
      expect(await t.app.get(Database).selectFrom('auditEvents').selectAll().execute()).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
