import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { multipartBody } from './support/multipart.js';
import { eventually } from './support/storage.js';
import { DIALECTS } from './support/test-database.js';
import { TUS } from './support/tus-client.js';
import { TestApp, type TestUser } from './support/test-app.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The default quota of bytes every test app starts with. */
const DEFAULT_QUOTA_BYTES = MiB;

/** 20 files of 100 KiB: as multipart bodies (100 KiB and about 200 bytes), 10 fit in 1 MiB. */
const CONCURRENT = 20;
const FILE_SIZE = 100 * KiB;
const FITTING = 10;

interface Answer {
  status: number;
  body: { message?: string; id?: string };
}

/**
 * POST /files with `data` as one multipart part: with its Content-Length, or chunked (`chunked`),
 * written by hand so that a refusal before the body is read is an answer, not an error.
 */
function postFile(
  app: TestApp,
  token: string,
  data: Buffer,
  { chunked = false, raw = false } = {},
): Promise<Answer> {
  const { body, contentType } = raw
    ? { body: data, contentType: 'application/octet-stream' }
    : multipartBody({ filename: 'file.bin' }, data);
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${app.baseUrl}/files`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': contentType,
        ...(!chunked && { 'content-length': body.length }),
      },
    });
    // The server may close the connection before the whole body is sent: its answer still came.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    let answered = false;
    req.once('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    // Chunked: in pieces, so the body has no length the server could know in advance.
    if (chunked)
      for (let at = 0; at < body.length; at += 16 * KiB)
        req.write(body.subarray(at, at + 16 * KiB));
    else req.write(body);
    req.end();
  });
}

async function png(size: number): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
}

describe.each(DIALECTS)('quotas (%s)', (dialect) => {
  let t: TestApp;
  let adminToken: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect, { DEFAULT_QUOTA_BYTES: String(DEFAULT_QUOTA_BYTES) });
    adminToken = await t.adminToken();
  });
  afterAll(() => t.close());

  const me = async (user: TestUser) =>
    (await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(200)).body as {
      usage: { bytes: number; files: number };
      quota: { bytes: number | null; files: number | null };
    };
  const setQuota = (user: TestUser, quota: object) =>
    t.http
      .patch(`/admin/users/${user.id}`)
      .auth(adminToken, { type: 'bearer' })
      .send(quota)
      .expect(200);
  const fileCount = async (user: TestUser) =>
    (await t.http.get('/files?limit=100').auth(user.token, { type: 'bearer' }).expect(200)).body
      .items.length as number;

  /** Uploads through `apps` in turn, all at once, watching the usage never pass `limit`. */
  async function concurrentUploads(
    apps: TestApp[],
    user: TestUser,
    limit: (u: { bytes: number; files: number }) => boolean,
  ) {
    let uploading = true;
    let overshoot: unknown;
    const watching = (async () => {
      while (uploading) {
        const { usage } = await me(user);
        if (!limit(usage)) overshoot = usage;
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        postFile(apps[i % apps.length], user.token, Buffer.alloc(FILE_SIZE, i)),
      ),
    ).finally(() => (uploading = false));
    await watching;
    expect(overshoot).toBeUndefined();
    return answers;
  }

  it('shows usage and quota at /auth/me, and in the admin API', async () => {
    const user = await t.createUser();
    expect(await me(user)).toMatchObject({
      usage: { bytes: 0, files: 0 },
      quota: { bytes: DEFAULT_QUOTA_BYTES, files: null },
    });
    await t.upload(user.token, Buffer.alloc(1000, 1)).expect(201);
    expect(await me(user)).toMatchObject({ usage: { bytes: 1000, files: 1 } });
    const { body } = await t.http
      .get('/admin/users')
      .auth(adminToken, { type: 'bearer' })
      .expect(200);
    expect(body.items.find((u: { id: string }) => u.id === user.id)).toMatchObject({
      usage: { bytes: 1000, files: 1 },
      quota: { bytes: DEFAULT_QUOTA_BYTES, files: null },
      quotaBytes: null,
      quotaFiles: null,
    });
  });

  it('lets exactly the uploads that fit the byte quota through, of 20 at once', async () => {
    const user = await t.createUser();
    const before = (await t.storedKeys()).length;
    const answers = await concurrentUploads([t], user, (u) => u.bytes <= DEFAULT_QUOTA_BYTES);
    const created = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 413);
    expect(created).toHaveLength(FITTING);
    expect(refused).toHaveLength(CONCURRENT - FITTING);
    for (const { body } of refused) {
      expect(body.message).toMatch(/^This upload would exceed your storage quota of 1 MiB \(/);
    }
    expect(await me(user)).toMatchObject({ usage: { bytes: FITTING * FILE_SIZE, files: FITTING } });
    expect(await fileCount(user)).toBe(FITTING);
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'refusals left nothing');
    expect(await t.storedKeys()).toHaveLength(before + FITTING);
  });

  it('lets exactly the uploads that fit the file quota through, of 20 at once', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 'unlimited', quotaFiles: 7 });
    const answers = await concurrentUploads([t], user, (u) => u.files <= 7);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(7);
    const refused = answers.filter((a) => a.status === 413);
    expect(refused).toHaveLength(CONCURRENT - 7);
    for (const { body } of refused) {
      expect(body.message).toBe('This upload would exceed your quota of 7 files (7 used)');
    }
    expect(await me(user)).toMatchObject({
      usage: { bytes: 7 * FILE_SIZE, files: 7 },
      quota: { bytes: null, files: 7 },
    });
    expect(await fileCount(user)).toBe(7);
  });

  it('refuses a chunked upload over the quota when it is all in, and keeps nothing', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 100 * KiB });
    await t.upload(user.token, Buffer.alloc(60 * KiB, 1)).expect(201);
    const before = await t.storedKeys();
    for (const raw of [false, true]) {
      const answer = await postFile(t, user.token, Buffer.alloc(50 * KiB, 2), {
        chunked: true,
        raw,
      });
      expect(answer).toEqual({
        status: 413,
        body: {
          statusCode: 413,
          error: 'Payload Too Large',
          message: 'This upload would exceed your storage quota of 100 KiB (60 KiB used)',
        },
      });
    }
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'nothing left');
    expect(await t.storedKeys()).toEqual(before);
    expect(await me(user)).toMatchObject({ usage: { bytes: 60 * KiB, files: 1 } });
    // Chunked and within the quota: stored.
    expect(
      await postFile(t, user.token, Buffer.alloc(40 * KiB, 3), { chunked: true, raw: true }),
    ).toMatchObject({
      status: 201,
    });
  });

  it('refuses a body whose Content-Length passes the quota before reading it', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 10 * KiB });
    // 10 MiB announced, 1 KiB sent: the answer comes without the rest, on a closed connection.
    const answer = await new Promise<{ status: number; connection?: string; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${t.baseUrl}/files`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${user.token}`,
            'content-type': 'application/octet-stream',
            'content-length': 10 * MiB,
          },
        });
        req.on('error', () => undefined);
        req.once('response', (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.once('end', () =>
            resolve({ status: res.statusCode!, connection: res.headers.connection, body }),
          );
        });
        req.once('close', () => reject(new Error('closed without an answer')));
        req.write(Buffer.alloc(KiB));
      },
    );
    expect(answer.status).toBe(413);
    expect(answer.connection).toBe('close');
    expect(JSON.parse(answer.body).message).toBe(
      'This upload would exceed your storage quota of 10 KiB (0 bytes used)',
    );
    expect(await t.uploadLeftovers()).toEqual([]);
  });

  it('holds what an upload in progress announced, and releases it when the upload is cut off', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 100 * KiB });
    const req = httpRequest(`${t.baseUrl}/files`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.token}`,
        'content-type': 'application/octet-stream',
        'content-length': 80 * KiB,
      },
    });
    req.on('error', () => undefined); // the abort below
    req.write(Buffer.alloc(16 * KiB, 1));
    await eventually(
      async () => (await me(user)).usage.bytes === 80 * KiB,
      'the upload holds what it announced',
    );
    const refused = await postFile(t, user.token, Buffer.alloc(30 * KiB, 2), { raw: true });
    expect(refused).toMatchObject({
      status: 413,
      body: { message: 'This upload would exceed your storage quota of 100 KiB (80 KiB used)' },
    });
    req.destroy();
    await eventually(
      async () => (await me(user)).usage.bytes === 0,
      'the upload cut off released its share',
    );
    expect(await me(user)).toMatchObject({ usage: { bytes: 0, files: 0 } });
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'nothing left');
    expect(await postFile(t, user.token, Buffer.alloc(30 * KiB, 2), { raw: true })).toMatchObject({
      status: 201,
    });
  });

  it('holds a tus upload to the quota from its creation, and frees it when it ends', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 100 * KiB });
    const before = await t.storedKeys();
    const tooLong = await t.http
      .post('/files/uploads')
      .auth(user.token, { type: 'bearer' })
      .set(TUS)
      .set('Upload-Length', String(100 * KiB + 1))
      .expect(413);
    expect(tooLong.body.message).toBe(
      'This upload would exceed your storage quota of 100 KiB (0 bytes used)',
    );
    expect(await t.uploadLeftovers()).toEqual([]);
    expect(await t.storedKeys()).toEqual(before);
    expect(await me(user)).toMatchObject({ usage: { bytes: 0, files: 0 } });

    // An unfinished upload holds its whole length.
    const created = await t.http
      .post('/files/uploads')
      .auth(user.token, { type: 'bearer' })
      .set(TUS)
      .set('Upload-Length', String(60 * KiB))
      .expect(201);
    expect(await me(user)).toMatchObject({ usage: { bytes: 60 * KiB, files: 1 } });
    const refused = await postFile(t, user.token, Buffer.alloc(50 * KiB, 1));
    expect(refused.status).toBe(413);
    expect(refused.body.message).toMatch(/storage quota of 100 KiB \(60 KiB used\)/);
    // Finished, it is a file of that size; ended, it holds nothing.
    await t.http
      .patch(created.headers.location)
      .auth(user.token, { type: 'bearer' })
      .set(TUS)
      .set('Upload-Offset', '0')
      .set('Content-Type', 'application/offset+octet-stream')
      .send(Buffer.alloc(60 * KiB, 2))
      .expect(204);
    expect(await me(user)).toMatchObject({ usage: { bytes: 60 * KiB, files: 1 } });
    const other = await t.http
      .post('/files/uploads')
      .auth(user.token, { type: 'bearer' })
      .set(TUS)
      .set('Upload-Length', String(30 * KiB))
      .expect(201);
    expect(await me(user)).toMatchObject({ usage: { bytes: 90 * KiB, files: 2 } });
    await t.http
      .delete(other.headers.location)
      .auth(user.token, { type: 'bearer' })
      .set(TUS)
      .expect(204);
    expect(await me(user)).toMatchObject({ usage: { bytes: 60 * KiB, files: 1 } });
  });

  it('counts a blur into a new file, and refuses one that does not fit', async () => {
    const user = await t.createUser();
    const image = await png(64);
    const { body: source } = await t.upload(user.token, image, {
      filename: 'a.png',
      contentType: 'image/png',
    });
    const { body: blurred } = await t.http
      .post(`/files/${source.id}/blur`)
      .auth(user.token, { type: 'bearer' })
      .expect(201);
    expect(await me(user)).toMatchObject({
      usage: { bytes: image.length + blurred.size, files: 2 },
    });
    await setQuota(user, { quotaFiles: 2 });
    const refused = await t.http
      .post(`/files/${source.id}/blur`)
      .auth(user.token, { type: 'bearer' })
      .expect(413);
    expect(refused.body.message).toBe('This upload would exceed your quota of 2 files (2 used)');
    await setQuota(user, { quotaFiles: null, quotaBytes: image.length + blurred.size });
    const full = await t.http
      .post(`/files/${source.id}/blur`)
      .auth(user.token, { type: 'bearer' })
      .expect(413);
    expect(full.body.message).toMatch(/^This upload would exceed your storage quota of /);
    expect(await fileCount(user)).toBe(2);
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'nothing left');
  });

  it('frees the space of a deleted file', async () => {
    const user = await t.createUser();
    await setQuota(user, { quotaBytes: 100 * KiB, quotaFiles: 2 });
    const { body: first } = await t.upload(user.token, Buffer.alloc(60 * KiB, 1)).expect(201);
    expect((await postFile(t, user.token, Buffer.alloc(50 * KiB, 2))).status).toBe(413);
    await t.http.delete(`/files/${first.id}`).auth(user.token, { type: 'bearer' }).expect(204);
    expect(await me(user)).toMatchObject({ usage: { bytes: 0, files: 0 } });
    await t.upload(user.token, Buffer.alloc(50 * KiB, 2)).expect(201);
  });

  it('takes an admin override, "unlimited" and back to the default, and refuses bad ones', async () => {
    const user = await t.createUser();
    const big = Buffer.alloc(DEFAULT_QUOTA_BYTES + 1, 1);
    expect((await postFile(t, user.token, big)).status).toBe(413);
    const { body } = await setQuota(user, { quotaBytes: 'unlimited' });
    expect(body).toMatchObject({
      quotaBytes: 'unlimited',
      quotaFiles: null,
      quota: { bytes: null, files: null },
    });
    await t.upload(user.token, big).expect(201);
    const reset = await setQuota(user, { quotaBytes: null });
    expect(reset.body).toMatchObject({ quotaBytes: null, quota: { bytes: DEFAULT_QUOTA_BYTES } });
    // Over the quota now: nothing is taken away, and nothing more comes in.
    expect(await me(user)).toMatchObject({ usage: { bytes: big.length } });
    expect((await postFile(t, user.token, Buffer.alloc(1, 1))).status).toBe(413);
    for (const bad of [{ quotaBytes: -1 }, { quotaBytes: 'lots' }, { quotaFiles: 1.5 }]) {
      const refused = await t.http
        .patch(`/admin/users/${user.id}`)
        .auth(adminToken, { type: 'bearer' })
        .send(bad)
        .expect(400);
      expect(refused.body.message).toEqual([
        expect.stringMatching(/^quota(Bytes|Files) must be a whole number of (bytes|files)/),
      ]);
    }
    expect(await me(user)).toMatchObject({ quota: { bytes: DEFAULT_QUOTA_BYTES, files: null } });
  });

  it('shares the quota between two instances: 20 uploads across both cannot pass it', async () => {
    const beside = await TestApp.startBeside(t, {
      DEFAULT_QUOTA_BYTES: String(DEFAULT_QUOTA_BYTES),
    });
    try {
      const user = await t.createUser();
      const answers = await concurrentUploads(
        [t, beside],
        user,
        (u) => u.bytes <= DEFAULT_QUOTA_BYTES,
      );
      expect(answers.filter((a) => a.status === 201)).toHaveLength(FITTING);
      expect(answers.filter((a) => a.status === 413)).toHaveLength(CONCURRENT - FITTING);
      expect(await me(user)).toMatchObject({
        usage: { bytes: FITTING * FILE_SIZE, files: FITTING },
      });
      // An override made through one instance holds on the other at once.
      await setQuota(user, { quotaBytes: 'unlimited' });
      await beside.upload(user.token, Buffer.alloc(FILE_SIZE, 1)).expect(201);
    } finally {
      await beside.close();
    }
  });
});
