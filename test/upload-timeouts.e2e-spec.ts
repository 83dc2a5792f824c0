import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIALECTS } from './support/test-database.js';
import { multipartEnvelope } from './support/multipart.js';
import { eventually } from './support/storage.js';
import { TestApp } from './support/test-app.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A POST (or `method`) whose body is sent by hand: `send` writes it, at whatever pace, and may
 * leave it unfinished. Resolves with the answer, whenever it comes, or fails if none comes in 20 s.
 */
function post(
  url: string,
  headers: Record<string, string | number>,
  send: (write: (chunk: Buffer | string) => void, end: () => void) => Promise<void>,
  method = 'POST',
): Promise<Answer> {
  const req = httpRequest(url, { method, headers });
  req.on('error', () => undefined); // the server closes a connection it answered 408
  req.flushHeaders(); // sent now, even if no byte of the body follows
  const answer = new Promise<Answer>((done, fail) => {
    const deadline = setTimeout(() => fail(new Error('no answer in 20 s')), 20_000);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => {
        clearTimeout(deadline);
        done({ status: res.statusCode!, headers: res.headers, body });
      });
    });
  });
  void send(
    (chunk) => req.write(chunk),
    () => req.end(),
  );
  return answer.finally(() => req.destroy());
}

describe.each(DIALECTS)('upload timeouts (%s)', (dialect) => {
  const IDLE_SECONDS = 2;
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect, { UPLOAD_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS) });
    token = await t.adminToken();
  });
  afterAll(() => t.close());

  /** POST /files of a part whose bytes and pace `send` decides, announcing `size` bytes. */
  function upload(contentType: string, size: number, send: Parameters<typeof post>[2]) {
    return post(
      `${t.baseUrl}/files`,
      {
        authorization: `Bearer ${token}`,
        'content-type': contentType,
        'content-length': size,
      },
      send,
    );
  }

  function expectRequestTimeout(answer: Answer) {
    expect(answer.status).toBe(408);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual({
      statusCode: 408,
      error: 'Request Timeout',
      message: expect.any(String),
    });
  }

  it('sets no limit on how long a whole request may take, only on its headers', () => {
    const server = t.app.getHttpServer();
    expect(server.requestTimeout).toBe(0);
    expect(server.headersTimeout).toBeGreaterThan(0);
    expect(server.headersTimeout).toBeLessThanOrEqual(60_000);
  });

  it('stores an upload that trickles in for longer than the idle timeout', async () => {
    const data = randomBytes(256 * 1024);
    const { head, tail, contentType } = multipartEnvelope({ filename: 'trickle.bin' });
    // Eight pieces, one about every second: the upload takes three idle timeouts or more.
    const pieces = Array.from({ length: 8 }, (_, i) =>
      data.subarray(i * 32 * 1024, (i + 1) * 32 * 1024),
    );
    expect(pieces.length * 0.9).toBeGreaterThan(3 * IDLE_SECONDS);
    const answer = await upload(
      contentType,
      head.length + data.length + tail.length,
      async (write, end) => {
        write(head);
        for (const piece of pieces) {
          await sleep(900);
          write(piece);
        }
        write(tail);
        end();
      },
    );
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ size: data.length, sha256: sha256(data) });
  });

  it('answers 408 as JSON to an upload that pauses longer than the idle timeout, and keeps nothing', async () => {
    const storedBefore = await t.storedKeys();
    const { head, contentType } = multipartEnvelope({ filename: 'paused.bin' });
    const answer = upload(contentType, head.length + 8 * 1024 * 1024, async (write) => {
      write(head);
      write(randomBytes(512 * 1024));
      // Then nothing more: the client has stalled.
      await Promise.resolve();
    });
    await eventually(
      async () => (await t.pendingUploads()).length === 1,
      'the upload is in progress',
    );
    expectRequestTimeout(await answer);
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'the upload is gone');
    expect(await t.storedKeys()).toEqual(storedBefore);
    await t.http.get('/health').expect(200);
  });

  it('answers 408 to a raw body that pauses longer than the idle timeout, and keeps nothing', async () => {
    const storedBefore = await t.storedKeys();
    const answer = upload('application/octet-stream', 8 * 1024 * 1024, async (write) => {
      write(randomBytes(512 * 1024));
      await Promise.resolve();
    });
    await eventually(
      async () => (await t.pendingUploads()).length === 1,
      'the upload is in progress',
    );
    expectRequestTimeout(await answer);
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'the upload is gone');
    expect(await t.storedKeys()).toEqual(storedBefore);
  });

  it('answers 408 to an upload that sends its headers and then nothing', async () => {
    const { contentType } = multipartEnvelope({ filename: 'nothing.bin' });
    const answer = await upload(contentType, 1024 * 1024, () => Promise.resolve());
    expectRequestTimeout(answer);
    // Its pending mark (the quota it claimed) was made before the body; it goes with the answer.
    await eventually(async () => (await t.uploadLeftovers()).length === 0, 'the upload is gone');
  });

  it('answers 408 to a JSON body that stops half-way', async () => {
    const answer = await post(
      `${t.baseUrl}/auth/login`,
      { 'content-type': 'application/json', 'content-length': 100 },
      async (write) => {
        write('{"username":');
        await Promise.resolve();
      },
    );
    expectRequestTimeout(answer);
  });
  it('answers 408 to a tus PATCH that stalls, keeps what arrived, and frees the upload', async () => {
    const data = randomBytes(256 * 1024);
    const created = await t.http
      .post('/files/uploads')
      .auth(token, { type: 'bearer' })
      .set({ 'Tus-Resumable': '1.0.0', 'Upload-Length': String(data.length) })
      .expect(201);
    const path = created.headers.location;
    const tus = { authorization: `Bearer ${token}`, 'tus-resumable': '1.0.0' };
    const half = data.length / 2;
    const stalled = await post(
      `${t.baseUrl}${path}`,
      {
        ...tus,
        'content-type': 'application/offset+octet-stream',
        'upload-offset': '0',
        'content-length': data.length,
      },
      (write) => {
        write(data.subarray(0, half)); // then nothing
        return Promise.resolve();
      },
      'PATCH',
    );
    expect(stalled.status).toBe(408);

    // The half that arrived is kept, and the lock is free: the rest goes on from there.
    let offset = 0;
    await eventually(async () => {
      const head = await t.http.head(path).set(tus);
      offset = Number(head.headers['upload-offset']);
      return offset === half;
    }, 'the bytes before the stall kept');
    const rest = await t.http
      .patch(path)
      .set({
        ...tus,
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': String(offset),
      })
      .send(data.subarray(offset))
      .expect(204);
    const { body } = await t.http
      .get(`/files/${rest.headers['file-id']}`)
      .auth(token, { type: 'bearer' })
      .expect(200);
    expect(body.sha256).toBe(sha256(data));
  });
});
