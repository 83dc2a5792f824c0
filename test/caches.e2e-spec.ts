import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Database } from '../src/database/database.js';
import { storageKeyOf } from '../src/files/storage/storage-key.js';
import { AUTH_STATE_TTL_MS } from '../src/common/cached-state.js';
import { binaryParser } from './support/binary-parser.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp, type TestUser } from './support/test-app.js';

/**
 * What the service keeps in memory to answer repeated requests (verified tokens, registry entries,
 * small files) never outlives what it stands for: a change is seen at once on the instance that
 * made it, and within AUTH_STATE_TTL_MS on another instance sharing the database and storage.
 */
const SMALL = (n: number) => Buffer.alloc(4096, n);

async function uploaded(t: TestApp, token: string, data: Buffer): Promise<string> {
  const { body } = await t.upload(token, data).expect(201);
  return body.id as string;
}

function download(t: TestApp, id: string, token: string) {
  return t.http
    .get(`/files/${id}/download`)
    .auth(token, { type: 'bearer' })
    .buffer(true)
    .parse(binaryParser);
}

async function signedPath(t: TestApp, id: string, token: string): Promise<string> {
  const { body } = await t.http
    .post(`/files/${id}/links`)
    .auth(token, { type: 'bearer' })
    .send({})
    .expect(201);
  const url = new URL(body.url as string);
  return url.pathname + url.search;
}

/** Uses a token, so that every cache on its way holds it and its user. */
async function warm(t: TestApp, token: string): Promise<void> {
  for (let i = 0; i < 2; i++)
    await t.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(200);
}

describe.each(DIALECTS)('caches, on the instance that made the change (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    admin = await t.adminToken();
  });
  afterAll(() => t.close());

  it('refuses a token revoked by a password change at once, though it was verified before', async () => {
    const user = await t.createUser('user', admin);
    await warm(t, user.token);
    await t.http
      .patch(`/admin/users/${user.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ password: 'another-long-password' })
      .expect(200);
    await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(401);
  });

  it("refuses a deleted user's token at once, though it was verified before", async () => {
    const user = await t.createUser('user', admin);
    await warm(t, user.token);
    await t.http.delete(`/admin/users/${user.id}`).auth(admin, { type: 'bearer' }).expect(204);
    await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(401);
  });

  it('applies a changed role at once: the earlier token is refused, a new one has the new role', async () => {
    const user = await t.createUser('admin', admin);
    await t.http.get('/admin/users').auth(user.token, { type: 'bearer' }).expect(200);
    await t.http
      .patch(`/admin/users/${user.id}`)
      .auth(admin, { type: 'bearer' })
      .send({ role: 'user' })
      .expect(200);
    await t.http.get('/admin/users').auth(user.token, { type: 'bearer' }).expect(401);
    const fresh = await t.login(user.username, user.password);
    await t.http.get('/admin/users').auth(fresh, { type: 'bearer' }).expect(403);
  });

  it('answers 404 for a deleted file at once, though its entry and bytes were in memory', async () => {
    const user = await t.createUser('user', admin);
    const id = await uploaded(t, user.token, SMALL(1));
    const link = await signedPath(t, id, user.token);
    for (let i = 0; i < 2; i++) {
      expect((await download(t, id, user.token).expect(200)).body).toEqual(SMALL(1));
      await t.http.get(link).expect(200);
    }
    await t.http.delete(`/files/${id}`).auth(user.token, { type: 'bearer' }).expect(204);
    await download(t, id, user.token).expect(404);
    await t.http.get(link).expect(404);
    await t.http.get(`/files/${id}`).auth(user.token, { type: 'bearer' }).expect(404);
  });

  it('answers 404 at once for the files of a deleted user, to an admin who downloaded them', async () => {
    const user = await t.createUser('user', admin);
    const id = await uploaded(t, user.token, SMALL(2));
    await download(t, id, admin).expect(200);
    await t.http
      .delete(`/admin/users/${user.id}?deleteFiles=true`)
      .auth(admin, { type: 'bearer' })
      .expect(204);
    await download(t, id, admin).expect(404);
  });

  it("never shows a user another user's file from memory", async () => {
    const [alice, bob] = [await t.createUser('user', admin), await t.createUser('user', admin)];
    const id = await uploaded(t, alice.token, SMALL(3));
    await download(t, id, alice.token).expect(200);
    await download(t, id, admin).expect(200);
    await download(t, id, bob.token).expect(404);
  });
});

describe.each(DIALECTS)('caches, on another instance (%s)', (dialect) => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await TestApp.start(dialect);
    // The same database, storage and JWT secret (kept in STORAGE_DIR): a second instance.
    b = await TestApp.start(dialect, {
      STORAGE_DIR: a.config.storageDir,
      ...(a.config.storage.driver === 's3' && { S3_PREFIX: a.config.storage.prefix }),
      JWT_SECRET: a.config.jwt.secret,
      ...(a.config.database.dialect === 'postgres' && { DATABASE_URL: a.config.database.url }),
    });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it(
    'sees a revoked token, a deleted user, a changed role and a deleted file within AUTH_STATE_TTL_MS',
    async () => {
      const admin = await a.adminToken();
      const revoked = await a.createUser('user', admin);
      const deleted = await a.createUser('user', admin);
      const demoted = await a.createUser('admin', admin);
      const owner = await a.createUser('user', admin);
      const id = await uploaded(a, owner.token, SMALL(4));
      const link = await signedPath(a, id, owner.token);
      // Instance b verifies every token and serves the file, so that all of it is in its memory.
      for (const user of [revoked, deleted, demoted] as TestUser[]) await warm(b, user.token);
      await b.http.get('/admin/users').auth(demoted.token, { type: 'bearer' }).expect(200);
      await download(b, id, owner.token).expect(200);
      await b.http.get(link).expect(200);

      // The changes, through instance a.
      await a.http
        .patch(`/admin/users/${revoked.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ password: 'another-long-password' })
        .expect(200);
      await a.http.delete(`/admin/users/${deleted.id}`).auth(admin, { type: 'bearer' }).expect(204);
      await a.http
        .patch(`/admin/users/${demoted.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ role: 'user' })
        .expect(200);
      await a.http.delete(`/files/${id}`).auth(owner.token, { type: 'bearer' }).expect(204);

      // The documented delay, and a little more for the requests above.
      await new Promise((done) => setTimeout(done, AUTH_STATE_TTL_MS + 1000));
      await b.http.get('/auth/me').auth(revoked.token, { type: 'bearer' }).expect(401);
      await b.http.get('/auth/me').auth(deleted.token, { type: 'bearer' }).expect(401);
      await b.http.get('/admin/users').auth(demoted.token, { type: 'bearer' }).expect(401);
      await download(b, id, owner.token).expect(404);
      await b.http.get(link).expect(404);
    },
    AUTH_STATE_TTL_MS + 30_000,
  );
});

describe.each(DIALECTS)('cache bounds (%s)', (dialect) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** The stored bytes of `id`, removed from the disk behind the local store's back. */
  const removeBytes = (app: TestApp, id: string) =>
    rm(join(app.config.storageDir, 'files', storageKeyOf(id)));

  it('keeps no more small-file bytes than SMALL_FILE_CACHE_BYTES, the least recently read going first', async () => {
    // The small-file cache is the local store's (like nginx's open_file_cache).
    t = await TestApp.start(dialect, {
      STORAGE_DRIVER: 'local',
      SMALL_FILE_CACHE_BYTES: String(2 * 4096),
    });
    const token = await t.adminToken();
    const ids = [await uploaded(t, token, SMALL(5)), await uploaded(t, token, SMALL(6))];
    ids.push(await uploaded(t, token, SMALL(7)));
    for (const id of ids) await download(t, id, token).expect(200);
    for (const id of ids) await removeBytes(t, id);
    // The two read last are still in memory; the first was let go to make room.
    expect((await download(t, ids[2], token).expect(200)).body).toEqual(SMALL(7));
    expect((await download(t, ids[1], token).expect(200)).body).toEqual(SMALL(6));
    await download(t, ids[0], token).expect(404);
  });

  it('keeps no more registry entries than FILE_ENTRY_CACHE_ENTRIES', async () => {
    t = await TestApp.start(dialect, {
      FILE_ENTRY_CACHE_ENTRIES: '2',
      SMALL_FILE_CACHE_BYTES: '0',
    });
    const token = await t.adminToken();
    const ids = [await uploaded(t, token, SMALL(8)), await uploaded(t, token, SMALL(9))];
    ids.push(await uploaded(t, token, SMALL(10)));
    for (const id of ids) await download(t, id, token).expect(200);
    // The entries go behind the service's back, as another instance would delete them.
    await t.app.get(Database).deleteFrom('files').execute();
    await download(t, ids[2], token).expect(200);
    await download(t, ids[1], token).expect(200);
    await download(t, ids[0], token).expect(404);
  });
});
