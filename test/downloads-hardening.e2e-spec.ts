import { createHash, randomBytes } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { DIALECTS } from './support/test-database.js';
import { eventually } from './support/storage.js';
import { TestApp } from './support/test-app.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** More than the socket buffers of both ends can take: a client that stops reading stalls it. */
const BIG = 64 * 1024 * 1024;

/** Descriptors of this process (the app runs in it) open on files under `dir`. */
async function descriptorsInto(dir: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((target) => target.startsWith(`${dir}/`)).length;
}

interface StalledDownload {
  status: number;
  socket: Socket;
  /** Bytes of the body received so far. */
  received: number;
}

/** Every stalled client, closed after each test: a failed test must not leave the app waiting. */
const clients = new Set<Socket>();
afterEach(() => {
  for (const socket of clients) socket.destroy();
  clients.clear();
});

/**
 * A GET sent by hand whose client reads the status line and headers, then stops reading: the
 * socket is paused, so the kernel's buffers fill and the server can write no more.
 */
async function stalledDownload(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<StalledDownload> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  clients.add(socket);
  socket.on('error', () => undefined); // the server may cut it: that is what is tested
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${lines.join('')}\r\n`);
  return new Promise((done, fail) => {
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(seen.toString('latin1'))?.[1]);
      done({ status, socket, received: seen.length - end - 4 });
    };
    const onClose = () => fail(new Error('the connection closed before the headers'));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Reads the rest of a stalled download until the connection closes: how much of the body came. */
function readToClose(download: StalledDownload): Promise<number> {
  return new Promise((done) => {
    let received = download.received;
    download.socket.on('data', (chunk: Buffer) => (received += chunk.length));
    download.socket.once('close', () => done(received));
    download.socket.resume();
  });
}

/** A download read at `bytesPerSecond`, steadily, chunk by chunk: its status, SHA-256 and size. */
function readSteadily(url: string, token: string, bytesPerSecond: number) {
  return new Promise<{ status: number; sha256: string; size: number }>((done, fail) => {
    const hash = createHash('sha256');
    let size = 0;
    const req = httpRequest(url, { headers: { authorization: `Bearer ${token}` } });
    req.once('response', (res) => {
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
        res.pause();
        setTimeout(() => res.resume(), (chunk.length / bytesPerSecond) * 1000);
      });
      res.once('end', () => done({ status: res.statusCode!, sha256: hash.digest('hex'), size }));
      res.once('error', fail);
    });
    req.once('error', fail);
    req.end();
  });
}

describe.each(DIALECTS)('stalled and slow downloads (%s)', (dialect) => {
  const IDLE_SECONDS = 2;
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    // One download at a time per user: a download that was ended must have given its slot back.
    // On local disk, where what a download holds is a file descriptor, counted below.
    t = await TestApp.start(dialect, {
      STORAGE_DRIVER: 'local',
      DOWNLOAD_IDLE_TIMEOUT_SECONDS: String(IDLE_SECONDS),
      DOWNLOADS_PER_USER: '1',
    });
    token = await t.adminToken();
  });
  afterAll(() => t.close());

  const filesDir = () => join(t.config.storageDir, 'files');

  it('ends a download whose client stops reading, closes its file and frees its slot', async () => {
    const { body: file } = await t.upload(token, randomBytes(BIG)).expect(201);
    expect(await descriptorsInto(filesDir())).toBe(0);

    const stalled = await stalledDownload(t.baseUrl, `/files/${file.id}/download`, {
      authorization: `Bearer ${token}`,
    });
    expect(stalled.status).toBe(200);
    expect(await descriptorsInto(filesDir())).toBe(1);

    await eventually(
      async () => (await descriptorsInto(filesDir())) === 0,
      'the stalled download closed its file',
    );
    // The server cut the connection part of the way through.
    expect(await readToClose(stalled)).toBeLessThan(BIG);
    const next = await fetch(`${t.baseUrl}/files/${file.id}/download`, {
      headers: { authorization: `Bearer ${token}`, range: 'bytes=0-1023' },
    });
    expect(next.status).toBe(206);
    expect((await next.arrayBuffer()).byteLength).toBe(1024);
  });

  it('never ends a client that reads slowly but steadily, for several idle timeouts', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    const { body: file } = await t.upload(token, data).expect(201);
    // 2 MiB/s: the download lasts at least 6 s, three idle timeouts, without a pause of one.
    const bytesPerSecond = 2 * 1024 * 1024;
    expect(data.length / bytesPerSecond).toBeGreaterThan(2 * IDLE_SECONDS);
    const result = await readSteadily(
      `${t.baseUrl}/files/${file.id}/download`,
      token,
      bytesPerSecond,
    );
    expect(result).toEqual({ status: 200, sha256: sha256(data), size: data.length });
  });
});

describe.each(DIALECTS)('concurrent download caps (%s)', (dialect) => {
  let t: TestApp;
  let admin: string;
  let big: string;
  beforeAll(async () => {
    // The idle timeout stays long: only the caps end or admit downloads here.
    t = await TestApp.start(dialect, { DOWNLOADS_PER_USER: '2', DOWNLOADS_PER_LINK: '2' });
    admin = await t.adminToken();
    big = (await t.upload(admin, randomBytes(BIG)).expect(201)).body.id;
  });
  afterAll(() => t.close());

  /** The first KiB, or whatever answer: its status, the body read. */
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${t.baseUrl}${path}`, { headers: { range: 'bytes=0-1023', ...headers } });
  const statusOf = async (path: string, headers: Record<string, string> = {}) => {
    const response = await get(path, headers);
    await response.arrayBuffer();
    return response.status;
  };

  async function expectTooMany(path: string, headers: Record<string, string> = {}) {
    const refused = await get(path, headers);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await refused.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.any(String),
    });
  }

  it("refuses a user's third download at once with 429, and serves one again once one ends", async () => {
    const user = await t.createUser('user', admin);
    const auth = { authorization: `Bearer ${user.token}` };
    const { body: file } = await t.upload(user.token, randomBytes(BIG)).expect(201);
    const path = `/files/${file.id}/download`;

    // Answers without a body, and errors after the count began, give their count back.
    const { body: gone } = await t.upload(user.token, randomBytes(1024)).expect(201);
    await t.loseBytes(gone.id);
    for (let i = 0; i < 3; i++) {
      await t.http.head(path).set(auth).expect(200);
      expect(await statusOf(path, { ...auth, 'if-none-match': `"${file.sha256}"` })).toBe(304);
      expect(await statusOf(path, { ...auth, range: `bytes=${BIG}-` })).toBe(416);
      expect(await statusOf(`/files/${gone.id}/download`, auth)).toBe(404);
    }

    const first = await stalledDownload(t.baseUrl, path, auth);
    const second = await stalledDownload(t.baseUrl, path, auth);
    expect([first.status, second.status]).toEqual([200, 200]);
    await expectTooMany(path, auth);
    // Another user is not held back by this one.
    expect(await statusOf(`/files/${big}/download`, { authorization: `Bearer ${admin}` })).toBe(
      206,
    );

    first.socket.destroy();
    second.socket.destroy();
    await eventually(async () => (await statusOf(path, auth)) === 206, 'a download is served');
  });

  it("refuses a signed link's third download at once with 429; another link is not held back", async () => {
    const createLink = async (expiresIn: number) => {
      const { body } = await t.http
        .post(`/files/${big}/links`)
        .auth(admin, { type: 'bearer' })
        .send({ expiresIn })
        .expect(201);
      const url = new URL(body.url as string);
      return url.pathname + url.search;
    };
    // Links made alike in the same second are one link: these differ in their expiry.
    const link = await createLink(600);
    const other = await createLink(900);

    const first = await stalledDownload(t.baseUrl, link);
    const second = await stalledDownload(t.baseUrl, link);
    expect([first.status, second.status]).toEqual([200, 200]);
    await expectTooMany(link);
    expect(await statusOf(other)).toBe(206);

    first.socket.destroy();
    second.socket.destroy();
    await eventually(async () => (await statusOf(link)) === 206, 'the link serves again');
  });
});
