import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Database } from '../src/database/database.js';
import { StorageSweeper } from '../src/files/storage-sweeper.js';
import { storageKeyOf } from '../src/files/storage/storage-key.js';
import { eventually } from './support/storage.js';
import { sendAll, sendPart, TUS, tusOptions } from './support/tus-client.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp, type TestUser } from './support/test-app.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Over S3's 8 MiB parts and then some: whole parts and a tail, on S3, when cut at 40%. */
const SIZE = 20 * 1024 * 1024 + 12345;

/** HEAD of an upload, as a tus client asks. */
function headOf(app: TestApp, url: string, token: string) {
  return app.http.head(new URL(url, app.baseUrl).pathname).auth(token, { type: 'bearer' }).set(TUS);
}

async function expectStored(app: TestApp, token: string, fileId: string, data: Buffer) {
  const { body } = await app.http
    .get(`/files/${fileId}`)
    .auth(token, { type: 'bearer' })
    .expect(200);
  expect(body).toMatchObject({
    id: fileId,
    filename: 'holiday.bin',
    size: data.length,
    sha256: sha256(data),
    contentType: 'application/x-holiday',
  });
  const download = await app.http
    .get(`/files/${fileId}/download`)
    .auth(token, { type: 'bearer' })
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    })
    .expect(200);
  expect(sha256(download.body as Buffer)).toBe(sha256(data));
}

describe.each(DIALECTS)('tus resumable uploads (%s)', (dialect) => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    alice = await t.createUser();
    bob = await t.createUser();
  });
  afterAll(() => t.close());

  it('OPTIONS says what the server speaks, without a token', async () => {
    const { headers } = await t.http.options('/files/uploads').expect(204);
    expect(headers).toMatchObject({
      'tus-resumable': '1.0.0',
      'tus-version': '1.0.0',
      'tus-max-size': String(t.config.uploads.maxBytes),
      'tus-checksum-algorithm': 'sha256',
    });
    expect(headers['tus-extension'].split(',')).toEqual(
      expect.arrayContaining(['creation', 'creation-with-upload', 'termination', 'expiration']),
    );
  });

  it('takes a whole upload and makes it a stored file, whose id the last answer gives', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 7);
    const { fileId } = await sendAll(data, tusOptions(t.baseUrl, alice.token));
    expect(fileId).toMatch(/^[0-9a-f-]{36}$/);
    await expectStored(t, alice.token, fileId!, data);
  });

  it('goes on from where a dropped connection left it, with a new client and the stored URL', async () => {
    const data = randomBytes(SIZE);
    const url = await sendPart(data, tusOptions(t.baseUrl, alice.token));
    const { headers } = await headOf(t, url, alice.token).expect(200);
    const offset = Number(headers['upload-offset']);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(data.length);
    expect(headers['upload-length']).toBe(String(data.length));

    const { fileId } = await sendAll(data, tusOptions(t.baseUrl, alice.token, { uploadUrl: url }));
    await expectStored(t, alice.token, fileId!, data);
    // HEAD still names the file once it is complete.
    const done = await headOf(t, url, alice.token).expect(200);
    expect(done.headers['upload-offset']).toBe(String(data.length));
    expect(done.headers['file-id']).toBe(fileId);
    expect(await t.uploadLeftovers()).toEqual([]);
  });

  it('goes on after the server restarts', async () => {
    const first = await TestApp.startBeside(t);
    const data = randomBytes(SIZE);
    const url = await sendPart(data, tusOptions(first.baseUrl, alice.token));
    await first.stop();

    const second = await TestApp.startBeside(t);
    try {
      const path = new URL(url).pathname;
      const { fileId } = await sendAll(
        data,
        tusOptions(second.baseUrl, alice.token, { uploadUrl: `${second.baseUrl}${path}` }),
      );
      await expectStored(second, alice.token, fileId!, data);
    } finally {
      await second.close();
      await first.close();
    }
  });

  it('lets one append at a time run: a second is refused (423) and nothing is mixed up', async () => {
    const data = randomBytes(256 * 1024);
    const created = await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Upload-Length': String(data.length) })
      .expect(201);
    const path = created.headers.location;

    // The first append sends half its bytes, then holds the rest back.
    const first = httpRequest(`${t.baseUrl}${path}`, {
      method: 'PATCH',
      headers: {
        ...TUS,
        Authorization: `Bearer ${alice.token}`,
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
        'Content-Length': String(data.length),
      },
    });
    const firstAnswer = new Promise<number>((resolve, reject) => {
      first.once('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      first.once('error', reject);
    });
    first.write(data.subarray(0, data.length / 2));
    // Sent before the first holds the lock, the second would run first and the first be refused.
    const id = path.split('/').pop()!;
    await eventually(() => t.resumableUploadLocked(id), 'the first append holding the lock');
    await t.http
      .patch(path)
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' })
      .send(randomBytes(1024))
      .expect(423);

    first.end(data.subarray(data.length / 2));
    expect(await firstAnswer).toBe(204);
    const head = await headOf(t, path, alice.token).expect(200);
    const fileId = head.headers['file-id'];
    const { body } = await t.http.get(`/files/${fileId}`).auth(alice.token, { type: 'bearer' });
    expect(body.sha256).toBe(sha256(data));
  });

  it('refuses an append at another offset than where the upload stands (409)', async () => {
    const created = await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Upload-Length': '10' })
      .expect(201);
    await t.http
      .patch(created.headers.location)
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '3' })
      .send(Buffer.from('abc'))
      .expect(409);
  });

  it('keeps nothing of an append whose checksum does not match (460)', async () => {
    const created = await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Upload-Length': '10' })
      .expect(201);
    const path = created.headers.location;
    const patch = (bytes: Buffer, digestOf: Buffer, offset: number) =>
      t.http
        .patch(path)
        .auth(alice.token, { type: 'bearer' })
        .set({
          ...TUS,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': String(offset),
          'Upload-Checksum': `sha256 ${createHash('sha256').update(digestOf).digest('base64')}`,
        })
        .send(bytes);
    await patch(Buffer.from('hello'), Buffer.from('HELLO'), 0).expect(460);
    expect((await headOf(t, path, alice.token).expect(200)).headers['upload-offset']).toBe('0');
    await patch(Buffer.from('hello'), Buffer.from('hello'), 0).expect(204);
    const last = await patch(Buffer.from('world'), Buffer.from('world'), 5).expect(204);
    const { body } = await t.http
      .get(`/files/${last.headers['file-id']}`)
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    expect(body.sha256).toBe(sha256(Buffer.from('helloworld')));
  });

  it('takes the first bytes with the creation (creation-with-upload)', async () => {
    const created = await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({
        ...TUS,
        'Upload-Length': '5',
        'Upload-Metadata': `filename ${b64('notes.txt')},filetype ${b64('text/plain')}`,
        'Content-Type': 'application/offset+octet-stream',
      })
      .send(Buffer.from('hello'))
      .expect(201);
    expect(created.headers['upload-offset']).toBe('5');
    const { body } = await t.http
      .get(`/files/${created.headers['file-id']}`)
      .auth(alice.token, { type: 'bearer' })
      .expect(200);
    expect(body).toMatchObject({ filename: 'notes.txt', size: 5, contentType: 'text/plain' });
  });

  it('hides an upload from another user (404), and removes its bytes when terminated', async () => {
    const url = await sendPart(randomBytes(SIZE), tusOptions(t.baseUrl, alice.token));
    const path = new URL(url).pathname;
    await headOf(t, url, bob.token).expect(404);
    await t.http
      .patch(path)
      .auth(bob.token, { type: 'bearer' })
      .set({ ...TUS, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' })
      .send(Buffer.from('x'))
      .expect(404);
    await t.http.delete(path).auth(bob.token, { type: 'bearer' }).set(TUS).expect(404);
    const key = storageKeyOf(path.split('/').pop()!);
    expect(await t.unfinishedWrites()).toContain(key);

    await t.http.delete(path).auth(alice.token, { type: 'bearer' }).set(TUS).expect(204);
    await headOf(t, url, alice.token).expect(404);
    expect(await t.unfinishedWrites()).not.toContain(key);
  });

  it('answers 410 for an upload that expired unfinished, and the sweeper removes its bytes', async () => {
    const url = await sendPart(randomBytes(SIZE), tusOptions(t.baseUrl, alice.token));
    const id = new URL(url).pathname.split('/').pop()!;
    await t.app
      .get(Database)
      .updateTable('resumableUploads')
      .set({ expiresAt: Date.now() - 1000 })
      .where('id', '=', id)
      .execute();
    await headOf(t, url, alice.token).expect(410);

    const sweeper = t.app.get(StorageSweeper);
    await eventually(async () => (await sweeper.sweep()).expiredUploads > 0, 'a sweep removing it');
    await headOf(t, url, alice.token).expect(404);
    expect(await t.unfinishedWrites()).not.toContain(storageKeyOf(id));
  });

  it('refuses an Upload-Length over MAX_UPLOAD_BYTES (413) before any byte', async () => {
    await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({ ...TUS, 'Upload-Length': String(t.config.uploads.maxBytes + 1) })
      .expect(413);
  });

  it('refuses a request without Tus-Resumable (412), and one without a token (401)', async () => {
    const refused = await t.http
      .post('/files/uploads')
      .auth(alice.token, { type: 'bearer' })
      .set({ 'Upload-Length': '1' })
      .expect(412);
    expect(refused.headers['tus-version']).toBe('1.0.0');
    await t.http
      .post('/files/uploads')
      .set({ ...TUS, 'Upload-Length': '1' })
      .expect(401);
  });

  it('lists the tus routes in the OpenAPI document', async () => {
    const { body } = await t.http.get('/docs-json').expect(200);
    expect(Object.keys(body.paths['/files/uploads'])).toEqual(
      expect.arrayContaining(['options', 'post']),
    );
    expect(Object.keys(body.paths['/files/uploads/{id}'])).toEqual(
      expect.arrayContaining(['head', 'patch', 'delete']),
    );
  });
});
