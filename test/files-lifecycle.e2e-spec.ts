import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/app-config.js';
import { Database } from '../src/database/database.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './support/test-database.js';
import { multipartBody, unfinishedUpload } from './support/multipart.js';
import { ServerProcess } from './support/server-process.js';
import { eventually, listFiles } from './support/storage.js';
import { TestApp } from './support/test-app.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const keyOf = (id: string) => `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;

/** This process's open file descriptors, and where each points: the test app runs in it. */
async function openDescriptors(): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  return Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => 'gone')));
}

describe.each(DIALECTS)('temp files and descriptors (%s)', (dialect) => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    token = await t.adminToken();
  });
  afterAll(() => t.close());

  it('keeps nothing of an upload aborted mid-body', async () => {
    const req = unfinishedUpload(t.baseUrl, token, 64 * 1024 * 1024, 2 * 1024 * 1024);
    // The upload is on its way to the store, half-way.
    await eventually(
      async () => (await t.pendingUploads()).length === 1,
      'the upload is in progress',
    );
    req.destroy();
    await eventually(
      async () => (await t.uploadLeftovers()).length === 0,
      'what the upload wrote was removed',
    );
    const { body } = await t.http.get('/files').auth(token, { type: 'bearer' }).expect(200);
    expect(body.items).toEqual([]);
    expect(await t.storedKeys()).toEqual([]);
    await t.http.get('/health').expect(200);
  });

  it('answers 503 to an upload the store refuses, and keeps nothing of it', async () => {
    // The store cannot take it: on local disk a file stands where the folder of stored files
    // belongs; in S3 the bucket is one that does not exist.
    const refusing = await TestApp.start(dialect, {
      ...(t.config.storage.driver === 's3' && { S3_BUCKET: 'no-such-bucket-here' }),
    });
    try {
      const files = join(refusing.config.storageDir, 'files');
      if (refusing.config.storage.driver === 'local') {
        await rm(files, { recursive: true, force: true });
        await writeFile(files, 'not a folder');
      }
      const admin = await refusing.adminToken();
      const response = await refusing.upload(admin, randomBytes(1024)).expect(503);
      expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      await eventually(
        async () => (await refusing.pendingUploads()).length === 0,
        'the upload was discarded',
      );
      // (A bucket that does not exist holds nothing either.)
      if (refusing.config.storage.driver === 'local') {
        await rm(files, { force: true });
        await mkdir(files);
        expect(await refusing.uploadLeftovers()).toEqual([]);
      }
    } finally {
      await refusing.close();
    }
  });

  it('sends every client the exact bytes when many download one file at once, some slowly', async () => {
    const data = randomBytes(8 * 1024 * 1024 + 7);
    const { body: file } = await t.upload(token, data).expect(201);
    const fetchOnce = (pauseMs: number) =>
      new Promise<string>((done, fail) => {
        const hash = createHash('sha256');
        const req = httpRequest(`${t.baseUrl}/files/${file.id}/download`, {
          headers: { authorization: `Bearer ${token}` },
        });
        req.once('response', (res) => {
          res.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            if (pauseMs > 0) {
              res.pause();
              setTimeout(() => res.resume(), pauseMs);
            }
          });
          res.once('end', () => done(hash.digest('hex')));
          res.once('error', fail);
        });
        req.once('error', fail);
        req.end();
      });
    const digests = await Promise.all([0, 0, 1, 1, 2, 3, 5, 8].map(fetchOnce));
    expect(new Set(digests)).toEqual(new Set([sha256(data)]));
  });

  it('releases the file descriptor of a 50 MiB download aborted after its first chunk', async () => {
    const data = randomBytes(50 * 1024 * 1024);
    const { body: file } = await t.upload(token, data).expect(201);
    const storedPath = join(t.config.storageDir, 'files', keyOf(file.id));
    const before = await openDescriptors();
    expect(before).not.toContain(storedPath);

    await new Promise<void>((done, fail) => {
      const req = httpRequest(`${t.baseUrl}/files/${file.id}/download`, {
        headers: { authorization: `Bearer ${token}` },
      });
      req.once('response', (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => {
          req.destroy();
          done();
        });
      });
      req.once('error', (error) => (req.destroyed ? undefined : fail(error)));
      req.end();
    });

    await eventually(async () => {
      const now = await openDescriptors();
      return !now.includes(storedPath) && now.length <= before.length;
    }, 'the descriptors are back to where they were');
  });
});

describe.each(DIALECTS)('a crash during concurrent uploads (%s)', (dialect) => {
  let storageDir: string;
  let database: TestDatabase;
  let server: ServerProcess | undefined;
  const password = 'admin-password-for-crash-test';
  beforeAll(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'file-service-crash-'));
    database = await createTestDatabase(dialect);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await database.drop();
    await rm(storageDir, { recursive: true, force: true });
  });

  const env = () => ({
    STORAGE_DIR: storageDir,
    ADMIN_PASSWORD: password,
    LOG_LEVEL: 'info',
    // The least allowed: the leftovers of the crash are made older than that below.
    SWEEP_MIN_AGE_SECONDS: '60',
    ...database.env,
  });

  async function login(base: string): Promise<string> {
    const response = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    return ((await response.json()) as { access_token: string }).access_token;
  }

  it('keeps every acknowledged upload whole, and the sweeper removes the rest', async () => {
    server = await ServerProcess.start(env());
    const token = await login(server.baseUrl);
    const acknowledged = new Map<string, string>(); // id → sha256 of what was sent
    let killed = false;

    // Eight clients upload 1 MiB files back to back until the server dies under them.
    const uploader = async () => {
      while (!killed) {
        const data = randomBytes(1024 * 1024);
        const { body, contentType } = multipartBody({ filename: 'crash.bin' }, data);
        try {
          const response = await fetch(`${server!.baseUrl}/files`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
            body,
          });
          if (response.status === 201) {
            acknowledged.set(((await response.json()) as { id: string }).id, sha256(data));
          }
        } catch {
          // the connection died with the server
        }
      }
    };
    const clients = Array.from({ length: 8 }, uploader);
    await eventually(() => acknowledged.size >= 24, '24 uploads acknowledged');
    await server.stop('SIGKILL');
    killed = true;
    await Promise.all(clients);

    // What a crash at the worst moments leaves: bytes renamed into place whose row was never
    // written, and a temp file of an upload that never finished.
    const orphan = randomUUID();
    await mkdir(join(storageDir, 'files', keyOf(orphan), '..'), { recursive: true });
    await writeFile(join(storageDir, 'files', keyOf(orphan)), 'orphaned bytes');
    await writeFile(join(storageDir, 'tmp', `upload-${randomUUID()}`), 'half an upload');
    // The restarted server sweeps only what is older than SWEEP_MIN_AGE_SECONDS: as if it came
    // back ten minutes after the crash.
    const old = new Date(Date.now() - 10 * 60_000);
    for (const dir of ['files', 'tmp']) {
      for (const path of await listFiles(join(storageDir, dir))) {
        await utimes(join(storageDir, dir, path), old, old);
      }
    }
    // The marks of the uploads cut short went unrenewed for as long.
    const db = Database.connect(loadConfig(env()).config.database);
    try {
      await db.updateTable('pendingUploads').set({ touchedAt: old.getTime() }).execute();
    } finally {
      await db.destroy();
    }

    server = await ServerProcess.start(env());
    const after = await login(server.baseUrl);
    const { items } = (await (
      await fetch(`${server.baseUrl}/files?limit=1000`, {
        headers: { authorization: `Bearer ${after}` },
      })
    ).json()) as { items: { id: string; size: number; sha256: string }[] };

    // Every acknowledged upload is there, as sent.
    const rows = new Map(items.map((item) => [item.id, item]));
    for (const [id, digest] of acknowledged) {
      expect(rows.get(id)).toMatchObject({ id, size: 1024 * 1024, sha256: digest });
    }
    // Every row, acknowledged or not, has its bytes, of the recorded size and digest.
    for (const item of items) {
      const bytes = await readFile(join(storageDir, 'files', keyOf(item.id)));
      expect({ id: item.id, size: bytes.length, sha256: sha256(bytes) }).toEqual({
        id: item.id,
        size: item.size,
        sha256: item.sha256,
      });
    }
    // The sweeper leaves exactly the bytes the registry names, and no temp file.
    const expected = items.map((item) => keyOf(item.id)).sort();
    await eventually(async () => {
      const [stored, temp] = await Promise.all([
        listFiles(join(storageDir, 'files')),
        listFiles(join(storageDir, 'tmp')),
      ]);
      return temp.length === 0 && JSON.stringify(stored) === JSON.stringify(expected);
    }, 'only the registered bytes remain');
    await server.waitForLogLine((line) =>
      String(line.msg).includes(
        `removed stored bytes that no registry entry names: ${keyOf(orphan)}`,
      ),
    );
  });
});
