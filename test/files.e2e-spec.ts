import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { parse as parseContentDisposition } from 'content-disposition';
import sharp from 'sharp';
import { SYSTEM_SCENE } from '../src/audit/audit-scene.js';
import { binaryParser } from './support/binary-parser.js';
import { eventually } from './support/storage.js';
import { DIALECTS } from './support/test-database.js';
import type { FilePart } from './support/multipart.js';
import { TestApp, type TestUser } from './support/test-app.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const NINE = Buffer.from('123456789');

async function png(): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Resolves once the server has closed the connection (the client keeps it alive). */
  closed: Promise<void>;
}

/**
 * POST `url` with `chunks` as its body, written by hand: chunked unless `headers` has a
 * Content-Length. `end: false` leaves the body unfinished, so that the answer must come without
 * the rest of it. Resolves with the answer; `abort` destroys the request instead.
 */
function postRaw(
  url: string,
  headers: Record<string, string | number>,
  chunks: Buffer[],
  { end = true } = {},
) {
  // Keep-alive, so that a closed connection is the server's doing.
  const agent = new Agent({ keepAlive: true });
  const req = httpRequest(url, { method: 'POST', headers, agent });
  req.on('error', () => undefined); // a connection closed before the body was all sent
  const closed = new Promise<void>((done) =>
    req.once('socket', (socket) => socket.once('close', () => done())),
  );
  const answer = new Promise<Answer>((done, fail) => {
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => done({ status: res.statusCode!, headers: res.headers, body, closed }));
    });
    req.once('close', () => fail(new Error('the connection closed without an answer')));
  });
  for (const chunk of chunks) req.write(chunk);
  if (end) req.end();
  else req.flushHeaders();
  return {
    answer: answer.finally(() => agent.destroy()),
    abort: () => {
      req.destroy();
      agent.destroy();
    },
  };
}

describe.each(DIALECTS)('files (%s)', (dialect) => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let admin: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    admin = await t.adminToken();
    alice = await t.createUser('user', admin);
    bob = await t.createUser('user', admin);
  });
  afterAll(() => t.close());

  const upload = (
    token: string,
    data: Buffer,
    part: FilePart = { filename: 'nine.txt', contentType: 'text/plain' },
  ) => t.upload(token, data, part);

  async function uploaded(token: string, data: Buffer, part?: FilePart): Promise<string> {
    const response = await upload(token, data, part).expect(201);
    return response.body.id as string;
  }

  const download = (id: string, token = alice.token) =>
    t.http
      .get(`/files/${id}/download`)
      .auth(token, { type: 'bearer' })
      .buffer(true)
      .parse(binaryParser);

  describe('POST /files', () => {
    it('stores the bytes and answers 201 with their metadata and Location', async () => {
      const response = await upload(alice.token, NINE).expect(201);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        filename: 'nine.txt',
        contentType: 'text/plain',
        size: 9,
        sha256: sha256(NINE),
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        ownerId: alice.id,
        expiresAt: null,
      });
      expect(response.headers.location).toBe(`/files/${response.body.id}`);
      expect((await download(response.body.id).expect(200)).body).toEqual(NINE);
    });

    it("stores under a UUID, never under the client's name, and leaves no temp file", async () => {
      const id = await uploaded(alice.token, NINE, { filename: '../../escape.txt' });
      const stored = await t.storedKeys();
      expect(stored).toContain(`${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`);
      expect(stored.join()).not.toContain('escape');
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it('takes the type from the bytes over the declared one', async () => {
      const image = await png();
      const { body } = await upload(alice.token, image, {
        filename: 'x.txt',
        contentType: 'text/plain',
      }).expect(201);
      expect(body.contentType).toBe('image/png');
    });

    it('keeps the declared type for unrecognised bytes', async () => {
      const csv = await upload(alice.token, Buffer.from('a,b\n1,2\n'), {
        filename: 'x.csv',
        contentType: 'text/csv',
      });
      expect(csv.body.contentType).toBe('text/csv');
      const octets = await upload(alice.token, Buffer.from([0, 1, 2]), {
        filename: 'x.bin',
        contentType: 'application/octet-stream',
      });
      expect(octets.body.contentType).toBe('application/octet-stream');
    });

    it('stores bytes it does not recognise, declared with an invalid type, as octet-stream', async () => {
      const bytes = Buffer.from('8f13d25a007ce109f0b3', 'hex');
      const { body } = await upload(alice.token, bytes, {
        filename: 'x.dat',
        contentType: 'not a type',
      }).expect(201);
      expect(body.contentType).toBe('application/octet-stream');
      const response = await download(body.id).expect(200);
      expect(response.headers['content-type']).toBe('application/octet-stream');
      expect(response.body).toEqual(bytes);
    });

    it.each([
      ['résumé 2024 "final"\r\nX-Injected: 1.pdf', 'résumé 2024 "final"X-Injected: 1.pdf'],
      ['../../etc/passwd', 'passwd'],
      ['C:\\Users\\me\\evil.exe', 'evil.exe'],
      ['tab\there.txt', 'tabhere.txt'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['\u202e\u2066', 'file'],
      ['   ', 'file'],
    ])('sanitises the filename %j to %j', async (sent, stored) => {
      const { body } = await upload(alice.token, NINE, { filename: sent }).expect(201);
      expect(body.filename).toBe(stored);
    });

    it.each([
      ['', 'application/octet-stream'],
      ['', 'text/plain'],
      ['../', 'application/octet-stream'],
      ['..', 'text/plain'],
    ])(
      'stores a part whose filename %j leaves nothing (declared %s), named `file`',
      async (filename, contentType) => {
        const { body } = await upload(alice.token, NINE, { filename, contentType }).expect(201);
        expect(body).toMatchObject({ filename: 'file', size: 9, sha256: sha256(NINE) });
        expect((await download(body.id).expect(200)).body).toEqual(NINE);
      },
    );

    /** POST /files with one part named `file` whose header lines are exactly `headers`. */
    function uploadRawPart(headers: string[], data: Buffer) {
      const boundary = 'raw-part-boundary';
      return t.http
        .post('/files')
        .auth(alice.token, { type: 'bearer' })
        .set('Content-Type', `multipart/form-data; boundary=${boundary}`)
        .send(
          Buffer.concat([
            Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`),
            data,
            Buffer.from(`\r\n--${boundary}--\r\n`),
          ]),
        );
    }

    it('stores a part named `file` without a filename, named `file`', async () => {
      const { body } = await uploadRawPart(
        ['Content-Disposition: form-data; name="file"', 'Content-Type: text/csv'],
        Buffer.from('a,b\n'),
      ).expect(201);
      expect(body).toMatchObject({ filename: 'file', contentType: 'text/csv', size: 4 });
    });

    it('takes a part without a Content-Type for text/plain (RFC 7578)', async () => {
      const { body } = await uploadRawPart(
        ['Content-Disposition: form-data; name="file"; filename="notes"'],
        NINE,
      ).expect(201);
      expect(body).toMatchObject({ filename: 'notes', contentType: 'text/plain' });
    });

    it('cuts a long filename to 255 bytes of UTF-8, keeping the extension', async () => {
      const { body } = await upload(alice.token, NINE, {
        filename: `${'é'.repeat(200)}.txt`,
      }).expect(201);
      expect(Buffer.byteLength(body.filename)).toBeLessThanOrEqual(255);
      expect(body.filename).toMatch(/^é+\.txt$/);
    });

    it('answers 400 without a body, without a file part, and for a part under another name, keeping nothing', async () => {
      const before = await t.storedKeys();
      const empty = await t.http.post('/files').auth(alice.token, { type: 'bearer' }).expect(400);
      expect(empty.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'send the file as the request body, or as a multipart part named "file"',
      });
      await t.http
        .post('/files')
        .auth(alice.token, { type: 'bearer' })
        .set('Content-Type', 'text/plain')
        .set('Content-Length', '0')
        .expect(400);
      await uploadRawPart(['Content-Disposition: form-data; name="note"'], NINE).expect(400);
      await upload(alice.token, NINE, { field: 'other', filename: 'x.txt' }).expect(400);
      expect(await t.storedKeys()).toEqual(before);
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it('refuses a large file under another name with 400, keeping nothing', async () => {
      const before = await t.storedKeys();
      const response = await upload(alice.token, Buffer.alloc(16 * 1024 * 1024, 1), {
        field: 'other',
        filename: 'big.bin',
      }).expect(400);
      expect(response.body.message).toBe('Unexpected file field - other');
      expect(await t.storedKeys()).toEqual(before);
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it('refuses two files in one request with 400, keeping neither', async () => {
      const before = await t.storedKeys();
      const response = await t.http
        .post('/files')
        .auth(alice.token, { type: 'bearer' })
        .attach('file', NINE, 'one.txt')
        .attach('file', NINE, 'two.txt')
        .expect(400);
      expect(response.body.message).toBe('Too many files');
      expect(await t.storedKeys()).toEqual(before);
      expect(await t.uploadLeftovers()).toEqual([]);
    });
  });

  describe('POST /files with the file as the body', () => {
    const rawUpload = (data: Buffer, contentType: string, query = '') =>
      t.http
        .post(`/files${query}`)
        .auth(alice.token, { type: 'bearer' })
        .set('Content-Type', contentType)
        .send(data);

    it('stores a body with a Content-Length: 201, Location, metadata, the same bytes back', async () => {
      const image = await png();
      const response = await rawUpload(image, 'application/octet-stream', '?filename=pic.png')
        .expect(201)
        .expect('Location', /^\/files\//);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        filename: 'pic.png',
        contentType: 'image/png',
        size: image.length,
        sha256: sha256(image),
        createdAt: expect.any(String),
        ownerId: alice.id,
        expiresAt: null,
      });
      expect(response.headers.location).toBe(`/files/${response.body.id}`);
      expect((await download(response.body.id).expect(200)).body).toEqual(image);
      expect(await t.storedKeys()).toContain(
        `${response.body.id.slice(0, 2)}/${response.body.id.slice(2, 4)}/${response.body.id}`,
      );
    });

    it('stores a chunked body', async () => {
      const chunks = Array.from({ length: 5 }, (_, i) =>
        Buffer.from(`row ${i},${'x'.repeat(100 * 1024)}\n`),
      );
      const data = Buffer.concat(chunks);
      const { answer } = postRaw(
        `${t.baseUrl}/files?filename=rows.csv`,
        { authorization: `Bearer ${alice.token}`, 'content-type': 'text/csv' },
        chunks,
      );
      const { status, headers, body } = await answer;
      expect(status).toBe(201);
      const file = JSON.parse(body);
      expect(headers.location).toBe(`/files/${file.id}`);
      expect(file).toMatchObject({
        filename: 'rows.csv',
        contentType: 'text/csv',
        size: data.length,
        sha256: sha256(data),
      });
      expect((await download(file.id).expect(200)).body).toEqual(data);
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it.each([
      ['text/csv', 'text/csv'],
      ['Text/Plain; charset=UTF-8', 'text/plain'],
      ['not a type', 'application/octet-stream'],
    ])('declares the type %j for bytes it does not recognise: %s', async (contentType, stored) => {
      const { body } = await rawUpload(Buffer.from('a,b\n1,2\n'), contentType).expect(201);
      expect(body.contentType).toBe(stored);
    });

    it('takes a body without a Content-Type for application/octet-stream', async () => {
      const bytes = Buffer.from('8f13d25a007ce109f0b3', 'hex');
      const { answer } = postRaw(
        `${t.baseUrl}/files`,
        { authorization: `Bearer ${alice.token}`, 'content-length': bytes.length },
        [bytes],
      );
      const { status, body } = await answer;
      expect(status).toBe(201);
      expect(JSON.parse(body)).toMatchObject({
        filename: 'file',
        contentType: 'application/octet-stream',
        sha256: sha256(bytes),
      });
    });

    it('stores a JSON body as it is, well-formed or not', async () => {
      for (const json of ['{"file": "x", "n": [1, 2]}\n', '{"not json']) {
        const data = Buffer.from(json);
        // By hand: supertest would serialise a Buffer sent as JSON.
        const { answer } = postRaw(
          `${t.baseUrl}/files?filename=doc.json`,
          {
            authorization: `Bearer ${alice.token}`,
            'content-type': 'application/json',
            'content-length': data.length,
          },
          [data],
        );
        const { status, body } = await answer;
        expect(status).toBe(201);
        const file = JSON.parse(body);
        expect(file).toMatchObject({
          filename: 'doc.json',
          contentType: 'application/json',
          size: data.length,
          sha256: sha256(data),
        });
        expect((await download(file.id).expect(200)).body).toEqual(data);
      }
    });

    it.each([
      ['?filename=', 'attachment; filename="b.txt"', 'file'],
      ['?filename=a.txt', 'attachment; filename="b.txt"', 'a.txt'],
      ['?filename=r%C3%A9sum%C3%A9.pdf', undefined, 'résumé.pdf'],
      ['', 'attachment; filename="b.txt"', 'b.txt'],
      ['', 'inline; filename=plain.txt', 'plain.txt'],
      [
        '',
        `attachment; filename="resume.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf`,
        'résumé 2024.pdf',
      ],
      ['', 'attachment', 'file'],
      ['', undefined, 'file'],
      ['?filename=..%2F..%2Fetc%2Fpasswd', undefined, 'passwd'],
      ['', 'attachment; filename="C:\\\\evil\\\\x.exe"', 'x.exe'],
    ])(
      'names the file from the query %j and Content-Disposition %j: %j',
      async (query, disposition, name) => {
        const request = t.http
          .post(`/files${query}`)
          .auth(alice.token, { type: 'bearer' })
          .set('Content-Type', 'text/plain');
        if (disposition !== undefined) request.set('Content-Disposition', disposition);
        const { body } = await request.send(NINE).expect(201);
        expect(body.filename).toBe(name);
      },
    );

    it('answers 400 to a filename given twice, keeping nothing', async () => {
      const before = await t.storedKeys();
      const { body } = await rawUpload(NINE, 'text/plain', '?filename=a&filename=b').expect(400);
      expect(body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'filename must be given at most once, as a string',
      });
      expect(await t.storedKeys()).toEqual(before);
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it('keeps nothing of a body whose client goes away half-way', async () => {
      const before = await t.storedKeys();
      const chunk = randomBytes(256 * 1024);
      const { answer, abort } = postRaw(
        `${t.baseUrl}/files`,
        {
          authorization: `Bearer ${alice.token}`,
          'content-type': 'application/octet-stream',
          'content-length': 64 * 1024 * 1024,
        },
        Array.from({ length: 8 }, () => chunk),
        { end: false },
      );
      answer.catch(() => undefined); // none comes
      await eventually(
        async () => (await t.pendingUploads()).length === 1,
        'the upload is in progress',
      );
      abort();
      await eventually(
        async () => (await t.uploadLeftovers()).length === 0,
        'what the upload wrote was removed',
      );
      expect(await t.storedKeys()).toEqual(before);
      await t.http.get('/health').expect(200);
    });
  });

  describe('GET /files', () => {
    let carol: TestUser;
    const ids: string[] = [];
    beforeAll(async () => {
      carol = await t.createUser('user', admin);
      for (let i = 0; i < 5; i++) ids.push(await uploaded(carol.token, Buffer.from(`file ${i}`)));
    });

    it("lists the caller's files, newest first, page by page", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: {
          body: { items: { id: string; createdAt: string }[]; nextCursor: string | null };
        } = await t.http
          .get('/files')
          .query({ limit: 2, ...(cursor && { cursor }) })
          .auth(carol.token, { type: 'bearer' })
          .expect(200);
        expect(page.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.body.items.map((f) => f.id));
        cursor = page.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].reverse());
    });

    it("shows a user only their own files, and an admin everyone's", async () => {
      const mine = await t.http
        .get('/files?limit=1000')
        .auth(alice.token, { type: 'bearer' })
        .expect(200);
      expect(mine.body.items.every((f: { ownerId: string }) => f.ownerId === alice.id)).toBe(true);
      expect(mine.body.items.map((f: { id: string }) => f.id)).not.toContain(ids[0]);
      const all = await t.http.get('/files?limit=1000').auth(admin, { type: 'bearer' }).expect(200);
      expect(all.body.items.map((f: { id: string }) => f.id)).toEqual(expect.arrayContaining(ids));
      expect(all.body.nextCursor).toBeNull();
    });

    it.each(['0', '1001', 'abc', '1.5'])('answers 400 for limit=%s', async (limit) => {
      await t.http.get(`/files?limit=${limit}`).auth(alice.token, { type: 'bearer' }).expect(400);
    });

    it.each([
      'garbage',
      Buffer.from('[1,"not-a-uuid"]').toString('base64url'),
      Buffer.from('{}').toString('base64url'),
    ])('answers 400 for the malformed cursor %s', async (cursor) => {
      const { body } = await t.http
        .get('/files')
        .query({ cursor })
        .auth(alice.token, { type: 'bearer' })
        .expect(400);
      expect(body.message).toBe('cursor is malformed');
    });
  });

  describe('GET and DELETE /files/{id}', () => {
    it('shows the owner and an admin the metadata, and anyone else a 404', async () => {
      const id = await uploaded(alice.token, NINE);
      await t.http.get(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(200);
      await t.http.get(`/files/${id}`).auth(admin, { type: 'bearer' }).expect(200);
      const other = await t.http
        .get(`/files/${id}`)
        .auth(bob.token, { type: 'bearer' })
        .expect(404);
      expect(other.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'file not found',
      });
      await download(id, bob.token).expect(404);
      await t.http.delete(`/files/${id}`).auth(bob.token, { type: 'bearer' }).expect(404);
      await t.http.get(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(200);
    });

    it('answers 400 for an id that is not a UUID and 404 for one that does not exist', async () => {
      await t.http.get('/files/nope').auth(alice.token, { type: 'bearer' }).expect(400);
      await t.http.get('/files/nope/download').auth(alice.token, { type: 'bearer' }).expect(400);
      await t.http.get(`/files/${randomUUID()}`).auth(alice.token, { type: 'bearer' }).expect(404);
    });

    it('finds a file by its id in capitals too', async () => {
      const id = await uploaded(alice.token, NINE);
      await t.http
        .get(`/files/${id.toUpperCase()}`)
        .auth(alice.token, { type: 'bearer' })
        .expect(200);
    });

    it('deletes the bytes and the entry: 204, then 404', async () => {
      const id = await uploaded(alice.token, NINE);
      const key = `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
      expect(await t.storedKeys()).toContain(key);
      await t.http.delete(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(204);
      expect(await t.storedKeys()).not.toContain(key);
      await t.http.get(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(404);
      await download(id).expect(404);
      await t.http.delete(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(404);
    });

    it("lets an admin delete anyone's file", async () => {
      const id = await uploaded(alice.token, NINE);
      await t.http.delete(`/files/${id}`).auth(admin, { type: 'bearer' }).expect(204);
      await t.http.get(`/files/${id}`).auth(alice.token, { type: 'bearer' }).expect(404);
    });
  });

  describe('downloads', () => {
    let nine: string;
    let etag: string;
    let lastModified: string;
    beforeAll(async () => {
      nine = await uploaded(alice.token, NINE, { filename: 'nine.txt', contentType: 'text/plain' });
      const head = await t.http
        .head(`/files/${nine}/download`)
        .auth(alice.token, { type: 'bearer' });
      etag = head.headers.etag;
      lastModified = head.headers['last-modified'];
    });
    const fetchNine = (headers: Record<string, string> = {}, query = '') =>
      t.http
        .get(`/files/${nine}/download${query}`)
        .auth(alice.token, { type: 'bearer' })
        .set(headers)
        .buffer(true)
        .parse(binaryParser);

    it('sends the bytes with every header of the contract', async () => {
      const response = await fetchNine().expect(200);
      expect(response.body).toEqual(NINE);
      expect(response.headers).toMatchObject({
        'content-type': 'text/plain',
        'x-content-type-options': 'nosniff',
        'content-security-policy': 'sandbox',
        'content-length': '9',
        'accept-ranges': 'bytes',
        etag: `"${sha256(NINE)}"`,
        'last-modified': expect.stringMatching(/GMT$/),
        'cache-control': 'private, max-age=31536000, immutable',
        'content-disposition': 'attachment; filename="nine.txt"',
      });
    });

    it.each([
      ['bytes=0-4', 206, '12345', 'bytes 0-4/9'],
      ['bytes=-3', 206, '789', 'bytes 6-8/9'],
      ['bytes=2-50', 206, '3456789', 'bytes 2-8/9'],
      ['bytes=-100', 206, '123456789', 'bytes 0-8/9'],
      ['bytes=4-', 206, '56789', 'bytes 4-8/9'],
      ['items=0-4', 200, '123456789', undefined],
      ['asdf', 200, '123456789', undefined],
      ['bytes=5-2', 200, '123456789', undefined],
      ['bytes=0-1,4-5', 200, '123456789', undefined],
    ])('Range: %s → %d %s', async (range, status, body, contentRange) => {
      const response = await fetchNine({ Range: range }).expect(status);
      expect(response.body.toString()).toBe(body);
      expect(response.headers['content-range']).toBe(contentRange);
      expect(response.headers['content-length']).toBe(String(body.length));
    });

    it.each(['bytes=9-50', 'bytes=-0', 'bytes=100-'])(
      'Range: %s → 416 with bytes */9',
      async (range) => {
        const response = await t.http
          .get(`/files/${nine}/download`)
          .auth(alice.token, { type: 'bearer' })
          .set('Range', range)
          .expect(416)
          .expect('Content-Type', /json/);
        expect(response.headers['content-range']).toBe('bytes */9');
        expect(response.body).toMatchObject({ statusCode: 416, error: 'Range Not Satisfiable' });
      },
    );

    it('answers any range on an empty file with 416 bytes */0, and the whole of it without one', async () => {
      const empty = await uploaded(alice.token, Buffer.alloc(0), { filename: 'empty.bin' });
      const ranged = await download(empty).set('Range', 'bytes=0-0').expect(416);
      expect(ranged.headers['content-range']).toBe('bytes */0');
      await download(empty).set('Range', 'bytes=-5').expect(416);
      const whole = await download(empty).expect(200);
      expect(whole.headers['content-length']).toBe('0');
    });

    it('honours If-Range with the current ETag or Last-Modified, and sends it all otherwise', async () => {
      expect(
        (await fetchNine({ Range: 'bytes=0-4', 'If-Range': etag }).expect(206)).body.toString(),
      ).toBe('12345');
      expect(
        (
          await fetchNine({ Range: 'bytes=0-4', 'If-Range': lastModified }).expect(206)
        ).body.toString(),
      ).toBe('12345');
      for (const stale of ['"0000"', `W/${etag}`, 'Thu, 01 Jan 2026 00:00:00 GMT']) {
        expect(
          (await fetchNine({ Range: 'bytes=0-4', 'If-Range': stale }).expect(200)).body.toString(),
        ).toBe('123456789');
      }
    });

    it.each([
      ['the ETag', () => etag],
      ['a list holding it', () => `"other", ${etag}`],
      ['its weak form', () => `W/${etag}`],
      ['*', () => '*'],
    ])(
      'answers If-None-Match with %s by a bodiless 304 that keeps the validators',
      async (_case, value) => {
        const response = await fetchNine({ 'If-None-Match': value() }).expect(304);
        expect(response.body.length ?? 0).toBe(0);
        expect(response.headers).toMatchObject({
          etag,
          'last-modified': lastModified,
          'cache-control': 'private, max-age=31536000, immutable',
        });
        expect(response.headers['content-length']).toBeUndefined();
      },
    );

    it('sends the file when If-None-Match does not match', async () => {
      await fetchNine({ 'If-None-Match': '"something-else"' }).expect(200);
    });

    it('answers HEAD with the headers of GET and no body', async () => {
      const response = await t.http
        .head(`/files/${nine}/download`)
        .auth(alice.token, { type: 'bearer' })
        .expect(200);
      expect(response.headers).toMatchObject({
        'content-length': '9',
        etag,
        'accept-ranges': 'bytes',
      });
      expect(response.text ?? '').toBe('');
      const ranged = await t.http
        .head(`/files/${nine}/download`)
        .auth(alice.token, { type: 'bearer' })
        .set('Range', 'bytes=0-4')
        .expect(206);
      expect(ranged.headers).toMatchObject({
        'content-length': '5',
        'content-range': 'bytes 0-4/9',
      });
    });

    it('shows safe types inline when asked, and anything else as an attachment', async () => {
      const image = await uploaded(alice.token, await png(), { filename: 'pic.png' });
      const html = await uploaded(alice.token, Buffer.from('<script>alert(1)</script>'), {
        filename: 'page.html',
        contentType: 'text/html',
      });
      const svg = await uploaded(
        alice.token,
        Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'),
        {
          filename: 'pic.svg',
          contentType: 'image/svg+xml',
        },
      );
      const disposition = async (id: string, query: string) =>
        (
          await t.http
            .get(`/files/${id}/download${query}`)
            .auth(alice.token, { type: 'bearer' })
            .expect(200)
        ).headers['content-disposition'];
      expect(await disposition(image, '?disposition=inline')).toBe('inline; filename="pic.png"');
      expect(await disposition(nine, '?disposition=inline')).toBe('inline; filename="nine.txt"');
      expect(await disposition(image, '')).toBe('attachment; filename="pic.png"');
      expect(await disposition(html, '?disposition=inline')).toMatch(/^attachment;/);
      expect(await disposition(svg, '?disposition=inline')).toMatch(/^attachment;/);
      await t.http
        .get(`/files/${image}/download?disposition=open`)
        .auth(alice.token, { type: 'bearer' })
        .expect(400);
    });

    it.each([
      ['an unknown parameter', '?size=large', 'property size should not exist'],
      ['a repeated one', '?disposition=inline&disposition=inline', 'disposition must be a string'],
    ])('answers 400 to %s in the query', async (_case, query, message) => {
      const id = await uploaded(alice.token, NINE);
      const response = await t.http
        .get(`/files/${id}/download${query}`)
        .auth(alice.token, { type: 'bearer' })
        .expect(400);
      expect(response.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
    });

    it('never lets a filename inject a header, and gives its exact name in filename*', async () => {
      const name = 'résumé 2024 "final"\r\nX-Injected: 1.pdf';
      const id = await uploaded(alice.token, NINE, { filename: name });
      const response = await download(id).expect(200);
      expect(response.headers['x-injected']).toBeUndefined();
      const header = response.headers['content-disposition'];
      expect(header).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''/);
      expect(header).not.toMatch(/[\r\n]/);
      expect(parseContentDisposition(header).parameters.filename).toBe(
        'résumé 2024 "final"X-Injected: 1.pdf',
      );
    });

    it('answers 404, and says nothing of paths, when the bytes of an entry are missing', async () => {
      const id = await uploaded(alice.token, NINE);
      await t.loseBytes(id);
      const response = await download(id).expect(404);
      expect(response.headers['content-type']).toMatch(/json/);
      expect(JSON.parse(response.body.toString())).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'file not found',
      });
    });
  });

  describe('signed links', () => {
    let id: string;
    beforeAll(async () => {
      id = await uploaded(alice.token, await png(), { filename: 'pic.png' });
    });
    const createLink = (body: object, token = alice.token) =>
      t.http.post(`/files/${id}/links`).auth(token, { type: 'bearer' }).send(body);
    const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

    it('downloads with no token until it expires, GET and HEAD, with the disposition it was made with', async () => {
      const { body } = await createLink({ expiresIn: 60, disposition: 'inline' }).expect(201);
      expect(body.url).toMatch(new RegExp(`^${t.baseUrl}/files/${id}/signed-download\\?`));
      expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(50_000);
      const response = await t.http
        .get(pathOf(body.url))
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(response.headers['content-type']).toBe('image/png');
      expect(response.headers['content-disposition']).toBe('inline; filename="pic.png"');
      expect(response.headers.etag).toMatch(/^"[0-9a-f]{64}"$/);
      // Reusable until the link expires, no longer.
      const maxAge = Number(
        /^private, max-age=(\d+), immutable$/.exec(response.headers['cache-control'])?.[1],
      );
      expect(maxAge).toBeGreaterThan(50);
      expect(maxAge).toBeLessThanOrEqual(60);
      await t.http.head(pathOf(body.url)).expect(200);
      await t.http.get(pathOf(body.url)).set('Range', 'bytes=0-3').expect(206);
    });

    it('defaults to attachment and five minutes', async () => {
      const { body } = await createLink({}).expect(201);
      expect(new URL(body.url).searchParams.get('disposition')).toBe('attachment');
      const seconds = (Date.parse(body.expiresAt) - Date.now()) / 1000;
      expect(seconds).toBeGreaterThan(290);
      expect(seconds).toBeLessThanOrEqual(300);
    });

    it('answers 403 to a link that was altered in any part', async () => {
      const { body } = await createLink({ disposition: 'attachment' }).expect(201);
      const url = new URL(body.url);
      const altered = (change: (u: URL) => void) => {
        const copy = new URL(url);
        change(copy);
        return copy.pathname + copy.search;
      };
      const other = await uploaded(alice.token, NINE);
      for (const path of [
        altered((u) => u.searchParams.set('disposition', 'inline')),
        altered((u) =>
          u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)),
        ),
        altered((u) =>
          u.searchParams.set('signature', `${u.searchParams.get('signature')!.slice(0, -2)}AA`),
        ),
        altered((u) => u.searchParams.delete('signature')),
        altered((u) => (u.pathname = `/files/${other}/signed-download`)),
      ]) {
        const response = await t.http.get(path).expect(403);
        expect(response.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      }
    });

    it('answers 410 to an expired link', async () => {
      const { SignedLinks } = await import('../src/files/links/signed-links.js');
      const expired = t.app.get(SignedLinks).create(id, -10, 'attachment', t.baseUrl, SYSTEM_SCENE);
      const response = await t.http.get(expired.path).expect(410);
      expect(response.body).toMatchObject({
        statusCode: 410,
        error: 'Gone',
        message: 'the link has expired',
      });
    });

    it('answers 404 to a link whose file was deleted', async () => {
      const victim = await uploaded(alice.token, NINE);
      const { body } = await t.http
        .post(`/files/${victim}/links`)
        .auth(alice.token, { type: 'bearer' })
        .send({})
        .expect(201);
      await t.http.delete(`/files/${victim}`).auth(alice.token, { type: 'bearer' }).expect(204);
      await t.http.get(pathOf(body.url)).expect(404);
    });

    it('ignores X-Forwarded-Proto and -Host when no proxy is trusted', async () => {
      const { body } = await createLink({})
        .set('X-Forwarded-Proto', 'https')
        .set('X-Forwarded-Host', 'files.example.org')
        .expect(201);
      expect(body.url).toMatch(new RegExp(`^${t.baseUrl}/files/${id}/signed-download\\?`));
    });

    it('is made only for a file the caller may see, with valid options', async () => {
      await createLink({}, bob.token).expect(404);
      await createLink({}, admin).expect(201);
      for (const bad of [
        { expiresIn: 0 },
        { expiresIn: 86_401 },
        { expiresIn: 1.5 },
        { disposition: 'open' },
      ]) {
        await createLink(bad).expect(400);
      }
    });
  });

  describe('deleting a user who owns files', () => {
    it('is refused with 409, unless deleteFiles=true removes the files too', async () => {
      const dave = await t.createUser('user', admin);
      const id = await uploaded(dave.token, NINE);
      const key = `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
      const refused = await t.http
        .delete(`/admin/users/${dave.id}`)
        .auth(admin, { type: 'bearer' })
        .expect(409);
      expect(refused.body.message).toMatch(/owns files/);
      await t.http.get(`/files/${id}`).auth(dave.token, { type: 'bearer' }).expect(200);
      await t.http
        .delete(`/admin/users/${dave.id}?deleteFiles=true`)
        .auth(admin, { type: 'bearer' })
        .expect(204);
      await t.http.get(`/files/${id}`).auth(admin, { type: 'bearer' }).expect(404);
      expect(await t.storedKeys()).not.toContain(key);
    });
  });
});

describe.each(DIALECTS)('signed link origins (%s)', (dialect) => {
  /** An app started with `env`, a file in it, and a link to that file made with `headers`. */
  async function linkFrom(env: Record<string, string>, headers: Record<string, string>) {
    const t = await TestApp.start(dialect, env);
    try {
      const token = await t.adminToken();
      const { body: file } = await t.upload(token, NINE).expect(201);
      const { body: link } = await t.http
        .post(`/files/${file.id}/links`)
        .auth(token, { type: 'bearer' })
        .set(headers)
        .send({})
        .expect(201);
      return { t, id: file.id as string, url: new URL(link.url as string) };
    } catch (error) {
      await t.close();
      throw error;
    }
  }

  it('start with PUBLIC_BASE_URL whatever the request says, and work through its prefix', async () => {
    const { t, id, url } = await linkFrom(
      { PUBLIC_BASE_URL: 'https://files.example.com/base', TRUST_PROXY: '1' },
      { Host: 'evil.example', 'X-Forwarded-Proto': 'http', 'X-Forwarded-Host': 'evil.example' },
    );
    try {
      expect(url.href).toMatch(
        new RegExp(`^https://files\\.example\\.com/base/files/${id}/signed-download\\?`),
      );
      // The proxy at PUBLIC_BASE_URL takes /base off before passing the request on.
      const response = await t.http
        .get(url.pathname.replace(/^\/base/, '') + url.search)
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(response.body).toEqual(NINE);
    } finally {
      await t.close();
    }
  });

  it("start with the proxy's X-Forwarded-Proto and -Host when TRUST_PROXY trusts it", async () => {
    const { t, id, url } = await linkFrom(
      { TRUST_PROXY: '1' },
      { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'files.example.org' },
    );
    try {
      expect(url.href).toMatch(
        new RegExp(`^https://files\\.example\\.org/files/${id}/signed-download\\?`),
      );
      await t.http.get(url.pathname + url.search).expect(200);
    } finally {
      await t.close();
    }
  });
});

describe.each(DIALECTS)('upload size limit (%s)', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start(dialect, { MAX_UPLOAD_BYTES: '1024' });
  });
  afterAll(() => t.close());

  it('answers 413 past MAX_UPLOAD_BYTES and keeps nothing', async () => {
    const token = await t.adminToken();
    const response = await t.upload(token, Buffer.alloc(4096, 7)).expect(413);
    expect(response.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'File too large',
    });
    expect(await t.uploadLeftovers()).toEqual([]);
    expect(await t.storedKeys()).toEqual([]);
    const list = await t.http.get('/files').auth(token, { type: 'bearer' }).expect(200);
    expect(list.body.items).toEqual([]);
    // Exactly the limit is fine.
    await t.upload(token, Buffer.alloc(1024, 7)).expect(201);
  });
  const TOO_LARGE = {
    statusCode: 413,
    error: 'Payload Too Large',
    message: 'the file is larger than MAX_UPLOAD_BYTES (1024 bytes)',
  };

  it('answers 413 to a raw body whose Content-Length is past the limit, without reading it, and closes the connection', async () => {
    const token = await t.adminToken();
    const before = await t.storedKeys();
    // 10 MiB announced, 1 KiB of it sent: the answer comes without the rest.
    const { answer } = postRaw(
      `${t.baseUrl}/files`,
      {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
        'content-length': 10 * 1024 * 1024,
      },
      [Buffer.alloc(1024, 7)],
      { end: false },
    );
    const { status, headers, body, closed } = await answer;
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual(TOO_LARGE);
    expect(headers.connection).toBe('close');
    await closed;
    expect(await t.uploadLeftovers()).toEqual([]);
    expect(await t.storedKeys()).toEqual(before);
  });

  it('answers 413 to a chunked body once it passes the limit, keeps nothing, and closes the connection', async () => {
    const token = await t.adminToken();
    const before = await t.storedKeys();
    // 2 KiB sent of a body that does not end.
    const { answer } = postRaw(
      `${t.baseUrl}/files?filename=big.bin`,
      { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      Array.from({ length: 4 }, () => Buffer.alloc(512, 7)),
      { end: false },
    );
    const { status, headers, body, closed } = await answer;
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual(TOO_LARGE);
    expect(headers.connection).toBe('close');
    await closed;
    await eventually(
      async () => (await t.uploadLeftovers()).length === 0,
      'what the upload wrote was removed',
    );
    expect(await t.storedKeys()).toEqual(before);
  });

  it('stores a raw body of exactly the limit, chunked or not', async () => {
    const token = await t.adminToken();
    const data = Buffer.alloc(1024, 7);
    await t.http
      .post('/files')
      .auth(token, { type: 'bearer' })
      .set('Content-Type', 'application/octet-stream')
      .send(data)
      .expect(201);
    const { answer } = postRaw(
      `${t.baseUrl}/files`,
      { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      [data.subarray(0, 1000), data.subarray(1000)],
    );
    const { status, body } = await answer;
    expect(status).toBe(201);
    expect(JSON.parse(body)).toMatchObject({ size: 1024, sha256: sha256(data) });
  });
});
