import { createHash, randomBytes } from 'node:crypto';
import { binaryParser } from './support/binary-parser.js';
import { storageEnvOf, TestBucket } from './support/s3.js';
import { TestApp } from './support/test-app.js';
import { DIALECTS, SHARED_JWT_SECRET } from './support/test-database.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Downloads from a bucket: what the registry answers alone, and the presigned redirect. */
describe.each(DIALECTS)('downloads from S3 (%s)', (dialect) => {
  let bucket: TestBucket;
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    bucket = new TestBucket();
    t = await TestApp.start(dialect, {
      JWT_SECRET: SHARED_JWT_SECRET,
      ...storageEnvOf(bucket),
      DOWNLOAD_REDIRECT: 'presigned',
      DOWNLOAD_REDIRECT_TTL_SECONDS: '30',
    });
    token = await t.adminToken();
  });
  afterAll(async () => {
    await t.close();
    await bucket.cleanup();
  });

  async function uploaded(data: Buffer, filename: string): Promise<string> {
    const { body } = await t.upload(token, data, { filename, contentType: 'text/csv' }).expect(201);
    return (body as { id: string }).id;
  }

  it('redirects a download to a short-lived URL of the store, with the name and type set', async () => {
    const data = randomBytes(300_000);
    const id = await uploaded(data, 'report.bin');
    const response = await t.http
      .get(`/files/${id}/download?disposition=inline`)
      .auth(token, { type: 'bearer' })
      .redirects(0)
      .expect(302);
    expect(response.headers['cache-control']).toBe('private, no-store');
    const location = new URL(response.headers.location);
    expect(location.origin).toBe(new URL(bucket.config.endpoint!).origin);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('30');

    // The store answers with the bytes, the file's type, and always as an attachment: its
    // response cannot carry nosniff or the CSP sandbox that make inline safe.
    const fromStore = await fetch(location);
    expect(fromStore.status).toBe(200);
    expect(fromStore.headers.get('content-type')).toBe('text/csv');
    expect(fromStore.headers.get('content-disposition')).toMatch(
      /^attachment; filename="report.bin"/,
    );
    expect(sha256(Buffer.from(await fromStore.arrayBuffer()))).toBe(sha256(data));

    // A range goes to the store too.
    const ranged = await fetch(location, { headers: { range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(data.subarray(10, 20));
  });

  it('gives a file that expires sooner a URL that expires with it', async () => {
    const { body } = await t
      .upload(token, randomBytes(1000), { filename: 'brief.bin' }, '?expiresIn=10')
      .expect(201);
    const response = await t.http
      .get(`/files/${body.id}/download`)
      .auth(token, { type: 'bearer' })
      .redirects(0)
      .expect(302);
    const expires = Number(new URL(response.headers.location).searchParams.get('X-Amz-Expires'));
    expect(expires).toBeGreaterThanOrEqual(1);
    expect(expires).toBeLessThanOrEqual(10);
  });

  it('answers HEAD and 304 from the registry, without the store', async () => {
    const data = randomBytes(1000);
    const id = await uploaded(data, 'gone.bin');
    // Lost from the store behind the service's back: only a read of the bytes would notice.
    await t.loseBytes(id);
    const head = await t.http
      .head(`/files/${id}/download`)
      .auth(token, { type: 'bearer' })
      .expect(200);
    expect(head.headers['content-length']).toBe('1000');
    expect(head.headers.etag).toBe(`"${sha256(data)}"`);
    await t.http
      .get(`/files/${id}/download`)
      .auth(token, { type: 'bearer' })
      .set('If-None-Match', `"${sha256(data)}"`)
      .expect(304);
  });

  it('redirects the download of a signed link too', async () => {
    const data = randomBytes(5000);
    const id = await uploaded(data, 'linked.bin');
    const { body } = await t.http
      .post(`/files/${id}/links`)
      .auth(token, { type: 'bearer' })
      .send({ expiresIn: 60 })
      .expect(201);
    const link = new URL((body as { url: string }).url);
    const response = await t.http.get(`${link.pathname}${link.search}`).redirects(0).expect(302);
    const fromStore = await fetch(response.headers.location);
    expect(sha256(Buffer.from(await fromStore.arrayBuffer()))).toBe(sha256(data));
  });

  it('serves the bytes through the service when no redirect is configured', async () => {
    const plain = await TestApp.start(dialect, {
      JWT_SECRET: SHARED_JWT_SECRET,
      ...storageEnvOf(bucket),
    });
    try {
      const data = randomBytes(7 * 2 ** 20 + 3); // more than one part
      const admin = await plain.adminToken();
      const { body } = await plain.upload(admin, data).expect(201);
      const { id } = body as { id: string };
      const whole = await plain.http
        .get(`/files/${id}/download`)
        .auth(admin, { type: 'bearer' })
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(sha256(whole.body as Buffer)).toBe(sha256(data));
      const ranged = await plain.http
        .get(`/files/${id}/download`)
        .auth(admin, { type: 'bearer' })
        .set('Range', `bytes=${5 * 2 ** 20 - 5}-${5 * 2 ** 20 + 4}`)
        .buffer(true)
        .parse(binaryParser)
        .expect(206);
      expect(ranged.body).toEqual(data.subarray(5 * 2 ** 20 - 5, 5 * 2 ** 20 + 5));
    } finally {
      await plain.close();
    }
  });
});
