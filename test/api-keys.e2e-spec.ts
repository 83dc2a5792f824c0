import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'supertest';
import sharp from 'sharp';
import { multipartBody } from './support/multipart.js';
import { ServerProcess } from './support/server-process.js';
import { DIALECTS } from './support/test-database.js';
import { ADMIN, TestApp } from './support/test-app.js';

const ALL_SCOPES = ['files:read', 'files:write', 'images', 'admin'] as const;
type Scope = (typeof ALL_SCOPES)[number];

/** A small real PNG, for the blur routes. */
const png = () =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } })
    .png()
    .toBuffer();

describe.each(DIALECTS)('API keys (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  /** POST /auth/api-keys with `token` (a session): the created key's body. */
  async function createKey(
    token: string,
    body: { name?: string; scopes: string[]; expiresIn?: number; ownerId?: string },
  ) {
    const response = await t.http
      .post('/auth/api-keys')
      .auth(token, { type: 'bearer' })
      .send({ name: 'a key', ...body })
      .expect(201);
    return response.body as {
      id: string;
      key: string;
      ownerId: string;
      scopes: string[];
      expiresAt: string | null;
      lastUsedAt: string | null;
    };
  }

  const me = (key: string) => t.http.get('/auth/me').auth(key, { type: 'bearer' });

  describe('scopes', () => {
    /** The admin's keys, one per set of scopes, made when first asked for. */
    const keys = new Map<string, Promise<string>>();
    const keyWith = (scopes: readonly Scope[]): Promise<string> => {
      const name = [...scopes].sort().join(' ');
      if (!keys.has(name))
        keys.set(
          name,
          createKey(admin, { name, scopes: [...scopes] }).then((k) => k.key),
        );
      return keys.get(name)!;
    };

    /** A stored file of the admin's, made with the admin's session. */
    const storedFile = async (data?: Buffer): Promise<string> => {
      const response = await t.upload(admin, data ?? Buffer.from('some bytes')).expect(201);
      return response.body.id as string;
    };

    type Call = (key: string) => Promise<Response>;
    const routes: [string, Scope[], number, () => Call | Promise<Call>][] = [
      [
        'GET /files',
        ['files:read'],
        200,
        () => (key) => t.http.get('/files').auth(key, { type: 'bearer' }),
      ],
      [
        'GET /files/{id}',
        ['files:read'],
        200,
        async () => {
          const id = await storedFile();
          return (key) => t.http.get(`/files/${id}`).auth(key, { type: 'bearer' });
        },
      ],
      [
        'GET /files/{id}/download',
        ['files:read'],
        200,
        async () => {
          const id = await storedFile();
          return (key) => t.http.get(`/files/${id}/download`).auth(key, { type: 'bearer' });
        },
      ],
      [
        'HEAD /files/{id}/download',
        ['files:read'],
        200,
        async () => {
          const id = await storedFile();
          return (key) => t.http.head(`/files/${id}/download`).auth(key, { type: 'bearer' });
        },
      ],
      [
        'POST /files',
        ['files:write'],
        201,
        () => (key) => t.upload(key, Buffer.from('uploaded with a key')),
      ],
      [
        'DELETE /files/{id}',
        ['files:write'],
        204,
        async () => {
          const id = await storedFile();
          return (key) => t.http.delete(`/files/${id}`).auth(key, { type: 'bearer' });
        },
      ],
      [
        'POST /files/{id}/links',
        ['files:read', 'files:write'],
        201,
        async () => {
          const id = await storedFile();
          return (key) => t.http.post(`/files/${id}/links`).auth(key, { type: 'bearer' }).send({});
        },
      ],
      [
        'POST /images/blur',
        ['images'],
        200,
        async () => {
          const { body, contentType } = multipartBody(
            { field: 'image', filename: 'a.png', contentType: 'image/png' },
            await png(),
          );
          return (key) =>
            t.http
              .post('/images/blur')
              .auth(key, { type: 'bearer' })
              .set('Content-Type', contentType)
              .send(body);
        },
      ],
      [
        'POST /files/{id}/blur',
        ['images', 'files:read', 'files:write'],
        201,
        async () => {
          const id = await storedFile(await png());
          return (key) => t.http.post(`/files/${id}/blur`).auth(key, { type: 'bearer' });
        },
      ],
      [
        'GET /admin/users',
        ['admin'],
        200,
        () => (key) => t.http.get('/admin/users').auth(key, { type: 'bearer' }),
      ],
      ['GET /auth/me', [], 200, () => (key) => me(key)],
    ];

    it.each(routes)('%s: a key with %j is let in', async (_route, needed, status, prepare) => {
      const call = await prepare();
      const response = await call(await keyWith(needed.length > 0 ? needed : ['files:read']));
      expect(response.status).toBe(status);
    });

    it.each(routes.filter(([, needed]) => needed.length > 0))(
      '%s: a key lacking any one of %j gets 403 with insufficient_scope',
      async (route, needed, _status, prepare) => {
        const call = await prepare();
        for (const missing of needed) {
          const response = await call(await keyWith(ALL_SCOPES.filter((s) => s !== missing)));
          expect({ missing, status: response.status }).toEqual({ missing, status: 403 });
          expect(response.headers['www-authenticate']).toBe(
            `Bearer error="insufficient_scope", scope="${needed.join(' ')}"`,
          );
          // A HEAD answer has no body.
          if (route.startsWith('HEAD')) continue;
          expect(response.body).toEqual({
            statusCode: 403,
            error: 'Forbidden',
            message: expect.stringContaining(missing),
          });
        }
      },
    );

    it('refuses a write-only key the files it may not read, and files:read keys nothing else', async () => {
      const writeOnly = await keyWith(['files:write']);
      const { body } = await t.upload(writeOnly, Buffer.from('write only')).expect(201);
      await t.http.get(`/files/${body.id}`).auth(writeOnly, { type: 'bearer' }).expect(403);
      const readOnly = await keyWith(['files:read']);
      await t.http.get(`/files/${body.id}`).auth(readOnly, { type: 'bearer' }).expect(200);
      await t.http.delete(`/files/${body.id}`).auth(readOnly, { type: 'bearer' }).expect(403);
    });

    it('tells /auth/me what the key may do', async () => {
      const { body } = await me(await keyWith(['images', 'files:read'])).expect(200);
      expect(body).toEqual({
        id: expect.any(String),
        username: ADMIN.username,
        role: 'admin',
        credential: 'api-key',
        scopes: ['files:read', 'images'],
        usage: { bytes: expect.any(Number), files: expect.any(Number) },
        quota: { bytes: null, files: null },
      });
    });

    it('never lets a key manage keys, whatever its scopes', async () => {
      const key = await keyWith(ALL_SCOPES);
      const list = await t.http.get('/auth/api-keys').auth(key, { type: 'bearer' }).expect(403);
      expect(list.body.message).toBe('this route cannot be called with an API key');
      await t.http
        .post('/auth/api-keys')
        .auth(key, { type: 'bearer' })
        .send({ name: 'child', scopes: ['files:read'] })
        .expect(403);
    });
  });

  describe('owners and roles', () => {
    it("lets a user hold at most their role's scopes, and make keys only for themselves", async () => {
      const user = await t.createUser('user', admin);
      const refused = await t.http
        .post('/auth/api-keys')
        .auth(user.token, { type: 'bearer' })
        .send({ name: 'too much', scopes: ['files:read', 'admin'] })
        .expect(403);
      expect(refused.body.message).toMatch(/not admin/);
      await t.http
        .post('/auth/api-keys')
        .auth(user.token, { type: 'bearer' })
        .send({ name: 'for someone else', scopes: ['files:read'], ownerId: randomUUID() })
        .expect(403);
      // Neither may an admin give a user's key more than the user's role.
      await t.http
        .post('/auth/api-keys')
        .auth(admin, { type: 'bearer' })
        .send({ name: 'too much', scopes: ['admin'], ownerId: user.id })
        .expect(403);
    });

    it("lets an admin make, list and revoke anyone's keys, and a user only their own", async () => {
      const alice = await t.createUser('user', admin);
      const bob = await t.createUser('user', admin);
      const own = await createKey(alice.token, { name: 'alice own', scopes: ['files:read'] });
      const made = await createKey(admin, {
        name: 'made for alice',
        scopes: ['images'],
        ownerId: alice.id,
      });
      expect(made.ownerId).toBe(alice.id);
      const bobs = await createKey(bob.token, { name: 'bob own', scopes: ['files:read'] });

      const aliceList = await t.http
        .get('/auth/api-keys')
        .auth(alice.token, { type: 'bearer' })
        .expect(200);
      expect(aliceList.body.items.map((k: { id: string }) => k.id).sort()).toEqual(
        [own.id, made.id].sort(),
      );
      await t.http
        .get(`/auth/api-keys?ownerId=${bob.id}`)
        .auth(alice.token, { type: 'bearer' })
        .expect(403);
      const adminView = await t.http
        .get(`/auth/api-keys?ownerId=${alice.id}`)
        .auth(admin, { type: 'bearer' })
        .expect(200);
      expect(adminView.body.items).toHaveLength(2);
      const everyone = await t.http
        .get('/auth/api-keys')
        .auth(admin, { type: 'bearer' })
        .expect(200);
      expect(everyone.body.items.map((k: { id: string }) => k.id)).toEqual(
        expect.arrayContaining([own.id, made.id, bobs.id]),
      );

      // Another user's key is not found, as if it did not exist.
      await t.http
        .delete(`/auth/api-keys/${bobs.id}`)
        .auth(alice.token, { type: 'bearer' })
        .expect(404);
      await me(bobs.key).expect(200);
      await t.http.delete(`/auth/api-keys/${bobs.id}`).auth(admin, { type: 'bearer' }).expect(204);
      await me(bobs.key).expect(401);
    });

    it("acts within the owner's current role: a demoted admin's key loses admin", async () => {
      const other = await t.createUser('admin', admin);
      const key = await createKey(other.token, { scopes: ['admin', 'files:read'] });
      await t.http.get('/admin/users').auth(key.key, { type: 'bearer' }).expect(200);
      await t.http
        .patch(`/admin/users/${other.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ role: 'user' })
        .expect(200);
      await t.http.get('/admin/users').auth(key.key, { type: 'bearer' }).expect(403);
      const { body } = await me(key.key).expect(200);
      expect(body).toMatchObject({ role: 'user', scopes: ['files:read'] });
    });

    it('dies with its owner, at once', async () => {
      const user = await t.createUser('user', admin);
      const key = await createKey(user.token, { scopes: ['files:read'] });
      await me(key.key).expect(200);
      await t.http.delete(`/admin/users/${user.id}`).auth(admin, { type: 'bearer' }).expect(204);
      await me(key.key).expect(401);
    });
  });

  describe('lifecycle', () => {
    it('is shown once, as fds_…, with no-store; never again in any response', async () => {
      const created = await t.http
        .post('/auth/api-keys')
        .auth(admin, { type: 'bearer' })
        .send({ name: 'shown once', scopes: ['files:read'] })
        .expect(201);
      expect(created.headers['cache-control']).toBe('no-store');
      const { key, id } = created.body;
      expect(key).toMatch(/^fds_[A-Za-z0-9_-]{43}$/);
      expect(created.body).toEqual({
        id: expect.any(String),
        name: 'shown once',
        ownerId: expect.any(String),
        scopes: ['files:read'],
        createdAt: expect.any(String),
        expiresAt: null,
        lastUsedAt: null,
        key,
      });

      const later: Response[] = [
        await t.http.get('/auth/api-keys').auth(admin, { type: 'bearer' }),
        await t.http.get('/auth/api-keys').auth(key, { type: 'bearer' }),
        await me(key),
        await t.http.get('/files').auth(key, { type: 'bearer' }),
        await t.http.post('/files').auth(key, { type: 'bearer' }),
        await t.http.get('/auth/me').auth(`${key}x`, { type: 'bearer' }),
      ];
      await t.http.delete(`/auth/api-keys/${id}`).auth(admin, { type: 'bearer' }).expect(204);
      later.push(await me(key));
      expect(later.map((r) => r.status)).toEqual([200, 403, 200, 200, 403, 401, 401]);
      for (const response of later) {
        expect(JSON.stringify([response.headers, response.text])).not.toContain(key.slice(4));
      }
      const listed = later[0].body.items.find((k: { id: string }) => k.id === id);
      // Listed before its first use: as created, but for the key itself.
      const asListed = { ...created.body };
      delete asListed.key;
      expect(listed).toEqual(asListed);
    });

    it('records when it was last used', async () => {
      const created = await createKey(admin, { scopes: ['files:read'] });
      const listed = async () => {
        const { body } = await t.http.get('/auth/api-keys').auth(admin, { type: 'bearer' });
        return body.items.find((k: { id: string }) => k.id === created.id);
      };
      expect((await listed()).lastUsedAt).toBeNull();
      const before = Date.now();
      await t.http.get('/files').auth(created.key, { type: 'bearer' }).expect(200);
      const after = Date.now();
      const lastUsedAt = Date.parse((await listed()).lastUsedAt);
      expect(lastUsedAt).toBeGreaterThanOrEqual(before);
      expect(lastUsedAt).toBeLessThanOrEqual(after);
    });

    it('stops working once it expires', async () => {
      const lasting = await createKey(admin, { scopes: ['files:read'], expiresIn: 3600 });
      const expiresAt = Date.parse(lasting.expiresAt!);
      expect(expiresAt).toBeGreaterThan(Date.now() + 3500_000);
      await me(lasting.key).expect(200);

      const brief = await createKey(admin, { scopes: ['files:read'], expiresIn: 1 });
      const wait = Date.parse(brief.expiresAt!) - Date.now() + 50;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      const expired = await me(brief.key).expect(401);
      expect(expired.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
      // Listed until revoked, with its expiry.
      const { body } = await t.http.get('/auth/api-keys').auth(admin, { type: 'bearer' });
      expect(body.items.find((k: { id: string }) => k.id === brief.id).expiresAt).toBe(
        brief.expiresAt,
      );
    });

    it('is refused at once on this instance when revoked, and by an instance started since', async () => {
      const created = await createKey(admin, { scopes: ['files:read'] });
      await me(created.key).expect(200);
      await t.http
        .delete(`/auth/api-keys/${created.id}`)
        .auth(admin, { type: 'bearer' })
        .expect(204);
      await me(created.key).expect(401);
      await t.http
        .delete(`/auth/api-keys/${created.id}`)
        .auth(admin, { type: 'bearer' })
        .expect(404);

      const second = await createKey(admin, { scopes: ['files:read'] });
      const database = t.config.database;
      const other = await TestApp.start(dialect, {
        JWT_SECRET: t.config.jwt.secret,
        DATABASE_URL: database.dialect === 'postgres' ? database.url : `sqlite:${database.file}`,
      });
      try {
        await other.http.get('/auth/me').auth(second.key, { type: 'bearer' }).expect(200);
        await t.http
          .delete(`/auth/api-keys/${second.id}`)
          .auth(admin, { type: 'bearer' })
          .expect(204);
        const third = await createKey(admin, { scopes: ['files:read'] });
        await t.http
          .delete(`/auth/api-keys/${third.id}`)
          .auth(admin, { type: 'bearer' })
          .expect(204);
        // Never seen by the other instance before its revocation: refused there at once.
        await other.http.get('/auth/me').auth(third.key, { type: 'bearer' }).expect(401);
      } finally {
        await other.close();
      }
    });

    it.each([
      ['no scopes', { name: 'x', scopes: [] }],
      ['an unknown scope', { name: 'x', scopes: ['files:delete'] }],
      ['no name', { scopes: ['files:read'] }],
      ['a name with a newline', { name: 'a\nb', scopes: ['files:read'] }],
      ['an expiry of 0', { name: 'x', scopes: ['files:read'], expiresIn: 0 }],
      ['an owner that is no UUID', { name: 'x', scopes: ['files:read'], ownerId: 'alice' }],
    ])('refuses %s with 400', async (_case, body) => {
      const response = await t.http
        .post('/auth/api-keys')
        .auth(admin, { type: 'bearer' })
        .send(body)
        .expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('answers 404 for a key made for a user who does not exist', async () => {
      await t.http
        .post('/auth/api-keys')
        .auth(admin, { type: 'bearer' })
        .send({ name: 'x', scopes: ['files:read'], ownerId: randomUUID() })
        .expect(404);
    });
  });
});

/** The built server, as `npm start` runs it, logging everything it logs. */
describe('an API key in the logs', () => {
  let server: ServerProcess;
  let storageDir: string;
  beforeAll(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'api-key-logs-'));
    server = await ServerProcess.start({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'a-secret-for-the-log-test-a-secret-for-the-log-test',
      ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: 'trace',
    });
  });
  afterAll(async () => {
    await server.stop();
    await rm(storageDir, { recursive: true, force: true });
  });

  it('never appears, whatever the key is used for', async () => {
    const call = (path: string, init: RequestInit = {}, token?: string) =>
      fetch(`${server.baseUrl}${path}`, {
        ...init,
        headers: {
          'content-type': 'application/json',
          ...(token && { authorization: `Bearer ${token}` }),
        },
      });
    const login = await call('/auth/login', { method: 'POST', body: JSON.stringify(ADMIN) });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const created = await call(
      '/auth/api-keys',
      { method: 'POST', body: JSON.stringify({ name: 'logged?', scopes: ['files:read'] }) },
      token,
    );
    const { key, id } = (await created.json()) as { key: string; id: string };
    expect((await call('/files', {}, key)).status).toBe(200);
    expect((await call('/admin/users', {}, key)).status).toBe(403);
    expect((await call('/auth/api-keys', {}, key)).status).toBe(403);
    expect((await call(`/auth/api-keys/${id}`, { method: 'DELETE' }, token)).status).toBe(204);
    expect((await call('/files', {}, key)).status).toBe(401);
    await server.waitForLogLine(
      (line) => (line.res as { statusCode?: number })?.statusCode === 401,
    );
    expect(server.log).toContain('/auth/api-keys');
    expect(server.log).not.toContain(key.slice(4));
  });
});
