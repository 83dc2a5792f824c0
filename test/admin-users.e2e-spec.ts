import { randomUUID } from 'node:crypto';
import { DIALECTS } from './support/test-database.js';
import { ADMIN, TestApp } from './support/test-app.js';

describe.each(DIALECTS)('/admin/users (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  const asAdmin = () => ({
    get: (url: string) => t.http.get(url).auth(admin, { type: 'bearer' }),
    post: (url: string) => t.http.post(url).auth(admin, { type: 'bearer' }),
    patch: (url: string) => t.http.patch(url).auth(admin, { type: 'bearer' }),
    delete: (url: string) => t.http.delete(url).auth(admin, { type: 'bearer' }),
  });

  it('creates a user and never shows the password or its hash', async () => {
    const { body, headers } = await asAdmin()
      .post('/admin/users')
      .send({ username: 'carol', password: 'carols-password', role: 'user' })
      .expect(201);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      username: 'carol',
      role: 'user',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      defaultFileTtlSeconds: null,
      usage: { bytes: 0, files: 0 },
      quota: { bytes: null, files: null },
      quotaBytes: null,
      quotaFiles: null,
    });
    expect(JSON.stringify(body) + JSON.stringify(headers)).not.toMatch(/argon|carols-password/);
    await t.login('carol', 'carols-password');
  });

  it('lists users, the bootstrap admin included', async () => {
    const { body } = await asAdmin().get('/admin/users').expect(200);
    expect(body.items).toEqual(
      expect.arrayContaining([
        {
          id: expect.any(String),
          username: ADMIN.username,
          role: 'admin',
          createdAt: expect.any(String),
          defaultFileTtlSeconds: null,
          usage: expect.any(Object),
          quota: { bytes: null, files: null },
          quotaBytes: null,
          quotaFiles: null,
        },
      ]),
    );
    expect(JSON.stringify(body)).not.toMatch(/password|hash/i);
  });

  it('refuses a duplicate username with 409', async () => {
    await asAdmin()
      .post('/admin/users')
      .send({ username: 'dave', password: 'daves-password', role: 'user' })
      .expect(201);
    const { body } = await asAdmin()
      .post('/admin/users')
      .send({ username: 'dave', password: 'another-password', role: 'admin' })
      .expect(409);
    expect(body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'username "dave" is taken',
    });
  });

  it.each([
    ['a password under 12 characters', { username: 'erin', password: 'short', role: 'user' }],
    ['a username with a space', { username: 'er in', password: 'long-enough-pw', role: 'user' }],
    [
      'a username of 65 characters',
      { username: 'e'.repeat(65), password: 'long-enough-pw', role: 'user' },
    ],
    ['an unknown role', { username: 'erin', password: 'long-enough-pw', role: 'root' }],
    ['a missing role', { username: 'erin', password: 'long-enough-pw' }],
  ])('refuses %s with 400 and creates nothing', async (_case, body) => {
    const response = await asAdmin().post('/admin/users').send(body).expect(400);
    expect(response.body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.any(Array),
    });
    const { body: list } = await asAdmin().get('/admin/users').expect(200);
    expect(list.items.map((u: { username: string }) => u.username)).not.toContain('erin');
  });

  it('changes a password and a role', async () => {
    const user = await t.createUser('user', admin);
    const { body } = await asAdmin()
      .patch(`/admin/users/${user.id}`)
      .send({ password: 'the-new-password', role: 'admin' })
      .expect(200);
    expect(body).toMatchObject({ id: user.id, username: user.username, role: 'admin' });
    const token = await t.login(user.username, 'the-new-password');
    await t.http.get('/admin/users').auth(token, { type: 'bearer' }).expect(200);
    await t.http
      .post('/auth/login')
      .send({ username: user.username, password: user.password })
      .expect(401);
  });

  it('refuses a short new password with 400', async () => {
    const user = await t.createUser('user', admin);
    await asAdmin().patch(`/admin/users/${user.id}`).send({ password: 'short' }).expect(400);
    await t.login(user.username, user.password);
  });

  it('answers 400 for an id that is not a UUID and 404 for one that does not exist', async () => {
    const invalid = await asAdmin()
      .patch('/admin/users/not-a-uuid')
      .send({ role: 'user' })
      .expect(400);
    expect(invalid.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    await asAdmin().patch(`/admin/users/${randomUUID()}`).send({ role: 'user' }).expect(404);
    await asAdmin().delete(`/admin/users/${randomUUID()}`).expect(404);
    await asAdmin().delete('/admin/users/123').expect(400);
  });

  it('refuses 400 for deleteFiles that is not a boolean', async () => {
    const user = await t.createUser('user', admin);
    await asAdmin().delete(`/admin/users/${user.id}?deleteFiles=yes`).expect(400);
    await t.login(user.username, user.password);
  });
});

describe.each(DIALECTS)('the last admin (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  let adminId: string;
  beforeEach(async () => {
    t = await TestApp.start(dialect);
    admin = await t.adminToken();
    adminId = (await t.http.get('/auth/me').auth(admin, { type: 'bearer' })).body.id;
  });
  afterEach(() => t.close());

  it('can be neither demoted nor deleted, until there is another admin', async () => {
    const demote = await t.http
      .patch(`/admin/users/${adminId}`)
      .auth(admin, { type: 'bearer' })
      .send({ role: 'user' })
      .expect(409);
    expect(demote.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      message: 'cannot demote the last admin',
    });
    const remove = await t.http
      .delete(`/admin/users/${adminId}`)
      .auth(admin, { type: 'bearer' })
      .expect(409);
    expect(remove.body.message).toBe('cannot delete the last admin');

    const second = await t.createUser('admin', admin);
    await t.http
      .delete(`/admin/users/${adminId}`)
      .auth(second.token, { type: 'bearer' })
      .expect(204);
    const last = await t.http
      .patch(`/admin/users/${second.id}`)
      .auth(second.token, { type: 'bearer' })
      .send({ role: 'user' })
      .expect(409);
    expect(last.body.message).toBe('cannot demote the last admin');
  });

  it('keeps one admin when the only two demote each other at once', async () => {
    const second = await t.createUser('admin', admin);
    const results = await Promise.all([
      t.http
        .patch(`/admin/users/${second.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ role: 'user' }),
      t.http
        .patch(`/admin/users/${adminId}`)
        .auth(second.token, { type: 'bearer' })
        .send({ role: 'user' }),
    ]);
    // One demotion wins; the other is refused: as the last admin (409), or because the winner's
    // token was revoked by being demoted first (401).
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results) expect([200, 401, 409]).toContain(r.status);
    const survivor = results[0].status === 200 ? admin : second.token;
    const { body } = await t.http
      .get('/admin/users')
      .auth(survivor, { type: 'bearer' })
      .expect(200);
    expect(body.items.filter((u: { role: string }) => u.role === 'admin')).toHaveLength(1);
  });
});
