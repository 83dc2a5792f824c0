import { DIALECTS } from './support/test-database.js';
import { runNode } from './support/server-process.js';
import { TestApp } from './support/test-app.js';

/** `npm run cli -- ...` on the configured database, next to a running server that shares it. */
describe.each(DIALECTS)('operator CLI (%s)', (dialect) => {
  let t: TestApp;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    env = {
      STORAGE_DIR: t.config.storageDir,
      JWT_SECRET: t.config.jwt.secret,
      ...(t.config.database.dialect === 'postgres' && { DATABASE_URL: t.config.database.url }),
    };
  });
  afterAll(() => t.close());

  const cli = (args: string[], stdin = '') => runNode('dist/cli.js', args, env, stdin);

  it('creates a user with the password read from stdin', async () => {
    const created = await cli(['users:create', 'alice', '--role', 'user'], 'alices-password\n');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toMatch(/^created user alice \([0-9a-f-]{36}\)\n$/);
    await t.login('alice', 'alices-password');
  });

  it('lists users', async () => {
    const { code, stdout } = await cli(['users:list']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/ admin +\S+Z +admin\n/);
    expect(stdout).toMatch(/ user +\S+Z +alice\n/);
  });

  it('refuses what the API refuses: a short password, a taken name, a bad role', async () => {
    const short = await cli(['users:create', 'bob'], 'short\n');
    expect(short).toMatchObject({
      code: 1,
      stderr: 'error: password must be at least 12 characters\n',
    });
    const taken = await cli(['users:create', 'alice'], 'long-enough-password\n');
    expect(taken).toMatchObject({ code: 1, stderr: 'error: username "alice" is taken\n' });
    const role = await cli(['users:create', 'bob', '--role', 'root'], 'long-enough-password\n');
    expect(role).toMatchObject({ code: 1, stderr: 'error: role must be one of user, admin\n' });
  });

  it('issues a token the server accepts, for as long as asked', async () => {
    const { code, stdout } = await cli(['token:issue', 'alice', '--ttl', '1h']);
    expect(code).toBe(0);
    const token = stdout.trim();
    const { body } = await t.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(200);
    expect(body).toMatchObject({ username: 'alice', role: 'user' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(3600);
    const bad = await cli(['token:issue', 'alice', '--ttl', 'soon']);
    expect(bad).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--ttl must be a duration'),
    });
  });

  it('sets a password, which revokes the earlier tokens', async () => {
    const before = await t.login('alice', 'alices-password');
    const changed = await cli(['users:set-password', 'alice'], 'alices-new-password\n');
    expect(changed.code).toBe(0);
    const after = await t.login('alice', 'alices-new-password');
    // The running server notices within its cache's lifetime; an instance starting now, on the
    // same database and secret, at once.
    const database = t.config.database;
    const other = await TestApp.start(dialect, {
      JWT_SECRET: t.config.jwt.secret,
      DATABASE_URL: database.dialect === 'postgres' ? database.url : `sqlite:${database.file}`,
    });
    try {
      await other.http.get('/auth/me').auth(after, { type: 'bearer' }).expect(200);
      await other.http.get('/auth/me').auth(before, { type: 'bearer' }).expect(401);
    } finally {
      await other.close();
    }
  });

  it('creates an API key the server accepts, lists it without the key, and revokes it', async () => {
    const created = await cli([
      'keys:create',
      'alice',
      '--name',
      'backup job',
      '--scope',
      'files:read',
      '--scope',
      'images',
      '--ttl',
      '30d',
    ]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = created.stdout.trim();
    expect(key).toMatch(/^fds_[A-Za-z0-9_-]{43}$/);
    const { body } = await t.http.get('/auth/me').auth(key, { type: 'bearer' }).expect(200);
    expect(body).toMatchObject({
      username: 'alice',
      credential: 'api-key',
      scopes: ['files:read', 'images'],
    });

    const listed = await cli(['keys:list', 'alice']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(key.slice(4));
    const line = listed.stdout.split('\n').find((l) => l.endsWith('backup job'))!;
    expect(line.split('  ')).toEqual([
      expect.stringMatching(/^[0-9a-f-]{36}$/),
      'alice',
      'files:read,images',
      expect.stringMatching(/^expires \S+Z$/),
      expect.stringMatching(/^used \S+Z$/),
      'backup job',
    ]);
    const id = line.split('  ')[0];

    const revoked = await cli(['keys:revoke', id]);
    expect(revoked).toMatchObject({ code: 0, stderr: '' });
    // The running server notices within its cache's lifetime; an instance starting now at once.
    const database = t.config.database;
    const other = await TestApp.start(dialect, {
      JWT_SECRET: t.config.jwt.secret,
      DATABASE_URL: database.dialect === 'postgres' ? database.url : `sqlite:${database.file}`,
    });
    try {
      await other.http.get('/auth/me').auth(key, { type: 'bearer' }).expect(401);
    } finally {
      await other.close();
    }
    expect(await cli(['keys:revoke', id])).toMatchObject({
      code: 1,
      stderr: 'error: API key not found\n',
    });
  });

  it("refuses a key beyond the owner's role, or without scopes", async () => {
    const admin = await cli(['keys:create', 'alice', '--name', 'x', '--scope', 'admin']);
    expect(admin).toMatchObject({ code: 1, stderr: expect.stringContaining('not admin') });
    const none = await cli(['keys:create', 'alice', '--name', 'x']);
    expect(none).toMatchObject({ code: 1, stderr: 'error: scopes must not be empty\n' });
  });

  it("sets a user's quota, which the server enforces at once, and refuses a malformed one", async () => {
    await cli(['users:create', 'erin'], 'erins-password-here\n');
    const token = await t.login('erin', 'erins-password-here');
    const set = await cli(['users:set-quota', 'erin', '--bytes', '10240', '--files', '5']);
    expect(set).toMatchObject({
      code: 0,
      stdout: 'quota of erin: 10 KiB, 5 files; in use: 0 bytes in 0 files\n',
      stderr: '',
    });
    const { body } = await t.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(200);
    expect(body).toMatchObject({
      usage: { bytes: 0, files: 0 },
      quota: { bytes: 10240, files: 5 },
    });
    const first = await t.upload(token, Buffer.alloc(8 * 1024, 1)).expect(201);
    const over = await t.upload(token, Buffer.alloc(4 * 1024, 1)).expect(413);
    expect(over.body.message).toBe(
      'This upload would exceed your storage quota of 10 KiB (8 KiB used)',
    );
    const unlimited = await cli(['users:set-quota', 'erin', '--bytes', 'unlimited']);
    expect(unlimited.stdout).toBe(
      'quota of erin: unlimited bytes, 5 files; in use: 8 KiB in 1 files\n',
    );
    const second = await t.upload(token, Buffer.alloc(4 * 1024, 1)).expect(201);
    const reset = await cli([
      'users:set-quota',
      'erin',
      '--bytes',
      'default',
      '--files',
      'default',
    ]);
    expect(reset.stdout).toMatch(/^quota of erin: unlimited bytes, unlimited files;/);
    const bad = await cli(['users:set-quota', 'erin', '--bytes', 'lots']);
    expect(bad).toMatchObject({
      code: 1,
      stderr:
        'error: quotaBytes must be a whole number of bytes (0 or more), "unlimited", or null for the default\n',
    });
    const none = await cli(['users:set-quota', 'erin']);
    expect(none).toMatchObject({ code: 1, stderr: 'error: give --bytes, --files or both\n' });
    for (const { body: file } of [first, second]) {
      await t.http.delete(`/files/${file.id}`).auth(token, { type: 'bearer' }).expect(204);
    }
  });

  it('deletes a user', async () => {
    const deleted = await cli(['users:delete', 'alice']);
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted alice\n' });
    const again = await cli(['users:delete', 'alice']);
    expect(again).toMatchObject({ code: 1, stderr: 'error: no user "alice"\n' });
  });

  it('prints its usage for an unknown command', async () => {
    const { code, stderr } = await cli(['users:frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain('users:create <username>');
  });
});
