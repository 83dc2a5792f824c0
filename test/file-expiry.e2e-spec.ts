import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { Database } from '../src/database/database.js';
import { StorageSweeper } from '../src/files/storage-sweeper.js';
import { storageKeyOf } from '../src/files/storage/storage-key.js';
import { multipartEnvelope } from './support/multipart.js';
import { eventually } from './support/storage.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp, type TestUser } from './support/test-app.js';
import { sendAll, TUS, tusOptions } from './support/tus-client.js';

/** The cap every app of this spec runs with. */
const MAX_TTL = 86_400;

/**
 * Long enough for the requests made before a file expires, on a loaded CI machine too; short
 * enough to wait for.
 */
const SHORT_LIFETIME = 10;

const b64 = (text: string) => Buffer.from(text).toString('base64');

interface FileBody {
  id: string;
  createdAt: string;
  expiresAt: string | null;
}

/** How long a file described by `body` lives, in seconds; null: until deleted. */
function lifetimeOf(body: FileBody): number | null {
  if (body.expiresAt === null) return null;
  return (Date.parse(body.expiresAt) - Date.parse(body.createdAt)) / 1000;
}

describe.each(DIALECTS)('file expiry (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  let alice: TestUser;

  beforeAll(async () => {
    t = await TestApp.start(dialect, { MAX_FILE_TTL_SECONDS: String(MAX_TTL) });
    admin = await t.adminToken();
    alice = await t.createUser('user', admin);
  });
  afterAll(() => t.close());

  /** POST /files with `data` as a multipart part, and `query` on the URL. */
  function upload(token: string, data: Buffer, query = '') {
    return t.upload(token, data, { filename: 'f.bin' }, query);
  }

  /** POST /files with `data` as the whole body. */
  function uploadRaw(token: string, data: Buffer, query = '') {
    return t.http
      .post(`/files${query}`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', 'application/octet-stream')
      .send(data);
  }

  /** POST /files with an `expiresIn` form field of `value` before or after the file part. */
  function uploadWithField(
    token: string,
    data: Buffer,
    value: string,
    where: 'before' | 'after',
    query = '',
  ) {
    const { head, tail, contentType } = multipartEnvelope({ filename: 'f.bin' });
    const boundary = contentType.split('boundary=')[1];
    const field = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="expiresIn"\r\n\r\n${value}\r\n`,
    );
    const body =
      where === 'before'
        ? Buffer.concat([field, head, data, tail])
        : Buffer.concat([
            head,
            data,
            Buffer.from('\r\n'),
            field,
            Buffer.from(`--${boundary}--\r\n`),
          ]);
    return t.http
      .post(`/files${query}`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', contentType)
      .send(body);
  }

  async function rowExists(id: string): Promise<boolean> {
    const row = await t.app
      .get(Database)
      .selectFrom('files')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  it('gives a file the lifetime its upload asks for, shown wherever the file is', async () => {
    const multipart = await upload(alice.token, randomBytes(100), '?expiresIn=3600').expect(201);
    expect(lifetimeOf(multipart.body as FileBody)).toBe(3600);
    const raw = await uploadRaw(alice.token, randomBytes(100), '?filename=r.bin&expiresIn=60');
    expect(raw.status).toBe(201);
    expect(lifetimeOf(raw.body as FileBody)).toBe(60);
    expect(raw.body).toMatchObject({ filename: 'r.bin' });
    const forever = await upload(alice.token, randomBytes(100)).expect(201);
    expect(forever.body).toMatchObject({ expiresAt: null });

    const { body: got } = await t.http
      .get(`/files/${multipart.body.id}`)
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    expect(got.expiresAt).toBe(multipart.body.expiresAt);
    const { body: list } = await t.http
      .get('/files?limit=1000')
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    const listed = new Map((list.items as FileBody[]).map((item) => [item.id, item.expiresAt]));
    expect(listed.get(multipart.body.id)).toBe(multipart.body.expiresAt);
    expect(listed.get(raw.body.id)).toBe(raw.body.expiresAt);
    expect(listed.get(forever.body.id)).toBeNull();

    // A browser may keep a download until the file expires, not for a year.
    const download = await t.http
      .get(`/files/${raw.body.id}/download`)
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    const maxAge = Number(/max-age=(\d+)/.exec(download.headers['cache-control'])![1]);
    expect(maxAge).toBeLessThanOrEqual(60);
    expect(maxAge).toBeGreaterThan(0);
  });

  it('takes expiresIn as a multipart field before the file, and refuses one after it', async () => {
    const before = await uploadWithField(alice.token, randomBytes(100), '120', 'before');
    expect(before.status).toBe(201);
    expect(lifetimeOf(before.body as FileBody)).toBe(120);

    const keys = await t.storedKeys();
    const after = await uploadWithField(alice.token, randomBytes(100), '120', 'after');
    expect(after.status).toBe(400);
    expect(after.body.message).toContain('before the file');
    const over = await uploadWithField(
      alice.token,
      randomBytes(100),
      String(MAX_TTL + 1),
      'before',
    );
    expect(over.status).toBe(400);
    expect(over.body.message).toContain(`MAX_FILE_TTL_SECONDS (${MAX_TTL} seconds)`);
    const twice = await uploadWithField(
      alice.token,
      randomBytes(9),
      '60',
      'before',
      '?expiresIn=60',
    );
    expect(twice.status).toBe(400);
    expect(twice.body.message).toContain('given once');
    await eventually(
      async () => (await t.pendingUploads()).length === 0,
      'the refused uploads gone',
    );
    expect(await t.storedKeys()).toEqual(keys);
  });

  it('refuses an expiresIn that is not a whole number of seconds, or over the cap, storing nothing', async () => {
    const before = await t.storedKeys();
    const over = await upload(alice.token, randomBytes(100), `?expiresIn=${MAX_TTL + 1}`);
    expect(over.status).toBe(400);
    expect(over.body.message).toContain(`MAX_FILE_TTL_SECONDS (${MAX_TTL} seconds)`);
    const overRaw = await uploadRaw(alice.token, randomBytes(100), `?expiresIn=${MAX_TTL + 1}`);
    expect(overRaw.status).toBe(400);
    for (const bad of ['0', '-5', '1.5', 'soon', '', '1e3', '60&expiresIn=60']) {
      const refused = await upload(alice.token, randomBytes(100), `?expiresIn=${bad}`);
      expect({ bad, status: refused.status }).toEqual({ bad, status: 400 });
      expect(refused.body.message).toMatch(/expiresIn/);
    }
    // The cap itself is allowed.
    await upload(alice.token, randomBytes(100), `?expiresIn=${MAX_TTL}`).expect(201);
    expect((await t.storedKeys()).length).toBe(before.length + 1);
    expect(await t.pendingUploads()).toEqual([]);
  });

  it('makes an expired file a 404 everywhere at once, and the sweeper removes its row and bytes', async () => {
    // A second instance on the same database and store: each remembers the entries it found.
    // Started first: its start-up sweep must be over before the file expires.
    const beside = await TestApp.startBeside(t, { MAX_FILE_TTL_SECONDS: String(MAX_TTL) });
    try {
      const image = await sharp({
        create: { width: 8, height: 8, channels: 3, background: '#336699' },
      })
        .png()
        .toBuffer();
      const uploaded = await upload(alice.token, image, `?expiresIn=${SHORT_LIFETIME}`);
      expect(uploaded.status).toBe(201);
      await expectExpiredEverywhere((uploaded.body as FileBody).id, beside);
    } finally {
      await beside.close();
    }
  });

  /**
   * Downloads file `id` of alice's (so each instance remembers its entry) and makes a link for
   * it; once it has expired, every route says 404 on both instances; then a sweep removes it.
   */
  async function expectExpiredEverywhere(id: string, beside: TestApp): Promise<void> {
    const auth = { type: 'bearer' } as const;
    await beside.http.get(`/files/${id}/download`).auth(alice.token, auth).expect(200);
    await t.http.get(`/files/${id}/download`).auth(alice.token, auth).expect(200);
    const { body: link } = await t.http
      .post(`/files/${id}/links`)
      .auth(alice.token, auth)
      .send({ expiresIn: 3600 })
      .expect(201);
    const linkPath = new URL(link.url as string).pathname + new URL(link.url as string).search;
    await t.http.get(linkPath).expect(200);
    await beside.http.get(linkPath).expect(200);

    await eventually(
      async () => (await t.http.get(`/files/${id}`).auth(alice.token, auth)).status === 404,
      'the file expired',
    );
    await t.http.get(`/files/${id}/download`).auth(alice.token, auth).expect(404);
    await t.http.head(`/files/${id}/download`).auth(alice.token, auth).expect(404);
    await t.http.get(`/files/${id}`).auth(admin, auth).expect(404);
    await t.http.get(linkPath).expect(404);
    await t.http.head(linkPath).expect(404);
    await t.http.post(`/files/${id}/links`).auth(alice.token, auth).send({}).expect(404);
    await t.http.post(`/files/${id}/blur`).auth(alice.token, auth).expect(404);
    for (const token of [alice.token, admin]) {
      const { body: list } = await t.http.get('/files?limit=1000').auth(token, auth).expect(200);
      expect((list.items as FileBody[]).map((item) => item.id)).not.toContain(id);
    }
    await beside.http.get(`/files/${id}`).auth(alice.token, auth).expect(404);
    await beside.http.get(`/files/${id}/download`).auth(alice.token, auth).expect(404);
    await beside.http.get(linkPath).expect(404);
    // As for a file that does not exist.
    await t.http.delete(`/files/${id}`).auth(alice.token, auth).expect(404);

    // Gone for every client, but its row and bytes wait for the sweeper.
    const key = storageKeyOf(id);
    expect(await t.storedKeys()).toContain(key);
    expect(await rowExists(id)).toBe(true);
    const sweeper = t.app.get(StorageSweeper);
    await eventually(async () => (await sweeper.sweep()).expiredFiles > 0, 'a sweep removing it');
    expect(await t.storedKeys()).not.toContain(key);
    expect(await rowExists(id)).toBe(false);
  }

  it("applies a user's default lifetime when the upload names none, blurred files included", async () => {
    const bob = await t.createUser('user', admin);
    const auth = { type: 'bearer' } as const;
    const patch = (body: object) =>
      t.http.patch(`/admin/users/${bob.id}`).auth(admin, auth).send(body);

    const { body: changed } = await patch({ defaultFileTtlSeconds: 600 }).expect(200);
    expect(changed).toMatchObject({ id: bob.id, defaultFileTtlSeconds: 600 });
    const { body: users } = await t.http.get('/admin/users').auth(admin, auth).expect(200);
    expect(users.items).toContainEqual(
      expect.objectContaining({ id: bob.id, defaultFileTtlSeconds: 600 }),
    );
    // Not a credential change: bob's token still works.
    await t.http.get('/auth/me').auth(bob.token, auth).expect(200);

    const byDefault = await upload(bob.token, randomBytes(10)).expect(201);
    expect(lifetimeOf(byDefault.body as FileBody)).toBe(600);
    const named = await uploadRaw(bob.token, randomBytes(10), '?expiresIn=60').expect(201);
    expect(lifetimeOf(named.body as FileBody)).toBe(60);

    // A blur into a new file: the new file is the caller's, with the caller's default.
    const image = await sharp({
      create: { width: 16, height: 16, channels: 3, background: '#ff8800' },
    })
      .png()
      .toBuffer();
    const { body: original } = await upload(bob.token, image, '?expiresIn=3600').expect(201);
    const { body: blurred } = await t.http
      .post(`/files/${original.id}/blur`)
      .auth(bob.token, auth)
      .expect(201);
    expect(lifetimeOf(blurred as FileBody)).toBe(600);

    // Over the cap, or not a positive whole number: refused, and the default stays.
    const over = await patch({ defaultFileTtlSeconds: MAX_TTL + 1 }).expect(400);
    expect(over.body.message).toContain(`MAX_FILE_TTL_SECONDS (${MAX_TTL} seconds)`);
    for (const bad of [0, -1, 1.5, '600']) {
      await patch({ defaultFileTtlSeconds: bad }).expect(400);
    }
    const { body: still } = await t.http.get('/admin/users').auth(admin, auth).expect(200);
    expect(still.items).toContainEqual(
      expect.objectContaining({ id: bob.id, defaultFileTtlSeconds: 600 }),
    );

    // null takes it away.
    await patch({ defaultFileTtlSeconds: null })
      .expect(200)
      .expect(({ body }) => expect(body.defaultFileTtlSeconds).toBeNull());
    const forever = await upload(bob.token, randomBytes(10)).expect(201);
    expect(forever.body).toMatchObject({ expiresAt: null });
  });

  it('gives a tus upload the lifetime of its Upload-Metadata, counted from its completion', async () => {
    const data = randomBytes(64 * 1024);
    const { url, fileId } = await sendAll(
      data,
      tusOptions(t.baseUrl, alice.token, {
        metadata: { filename: 'holiday.bin', filetype: 'application/x-holiday', expiresIn: '3600' },
      }),
    );
    const { body } = await t.http
      .get(`/files/${fileId}`)
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    // The file's createdAt is when the upload completed.
    expect(lifetimeOf(body as FileBody)).toBe(3600);
    const { headers } = await t.http
      .head(new URL(url).pathname)
      .auth(alice.token, { type: 'bearer' })
      .set(TUS)
      .expect(200);
    expect(headers['upload-metadata']).toContain(`expiresIn ${b64('3600')}`);
  });

  it('refuses a tus upload whose expiresIn is over the cap or malformed, before making it', async () => {
    const before = await t.unfinishedWrites();
    for (const value of [String(MAX_TTL + 1), 'soon', '0']) {
      const refused = await t.http
        .post('/files/uploads')
        .auth(alice.token, { type: 'bearer' })
        .set({ ...TUS, 'Upload-Length': '10', 'Upload-Metadata': `expiresIn ${b64(value)}` });
      expect({ value, status: refused.status }).toEqual({ value, status: 400 });
      expect(refused.headers.location).toBeUndefined();
    }
    expect(await t.unfinishedWrites()).toEqual(before);
  });
});
