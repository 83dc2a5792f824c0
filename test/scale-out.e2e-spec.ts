import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../src/config/app-config.js';
import { Database } from '../src/database/database.js';
import { storageKeyOf } from '../src/files/storage/storage-key.js';
import { multipartBody, unfinishedUpload } from './support/multipart.js';
import { TestBucket, storageEnvOf } from './support/s3.js';
import { ServerProcess } from './support/server-process.js';
import { eventually } from './support/storage.js';
import { sendAll, sendPart, tusOptions } from './support/tus-client.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from './support/test-database.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const PASSWORD = 'admin-password-for-scale-out';

/**
 * Two server processes on one PostgreSQL and one bucket, as behind a load balancer: whatever
 * one instance did, the other sees, and a crash of one loses nothing the other must keep.
 * PostgreSQL only: SQLite is one machine's database.
 */
describe.each(DIALECTS.filter((dialect) => dialect === 'postgres'))(
  'two instances on one %s and one S3 bucket',
  (dialect) => {
    let database: TestDatabase;
    let bucket: TestBucket;
    const servers: ServerProcess[] = [];
    const folders: string[] = [];

    beforeAll(async () => {
      database = await createTestDatabase(dialect);
      bucket = new TestBucket();
    });
    // Each test's instances are its own: another test's sweepers must not do this one's work.
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((server) => server.stop('SIGKILL')));
    });
    afterAll(async () => {
      await database.drop();
      await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    /** An instance: its own STORAGE_DIR and port, the shared database, secret and bucket. */
    async function startInstance(): Promise<ServerProcess> {
      const storageDir = await mkdtemp(join(tmpdir(), 'scale-out-'));
      folders.push(storageDir);
      const server = await ServerProcess.start({
        STORAGE_DIR: storageDir,
        ADMIN_PASSWORD: PASSWORD,
        LOG_LEVEL: 'info',
        // Both sweepers run all the time; a write is sweepable once a minute old, the least.
        SWEEP_INTERVAL_SECONDS: '1',
        SWEEP_MIN_AGE_SECONDS: '60',
        ...database.env,
        ...storageEnvOf(bucket),
      });
      servers.push(server);
      return server;
    }

    async function login(server: ServerProcess): Promise<string> {
      const response = await fetch(`${server.baseUrl}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: PASSWORD }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { access_token: string }).access_token;
    }

    function upload(server: ServerProcess, token: string, data: Buffer): Promise<Response> {
      const { body, contentType } = multipartBody({ filename: 'shared.bin' }, data);
      return fetch(`${server.baseUrl}/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
        body,
      });
    }

    /**
     * POST /files announcing `size` bytes and sending `sent` of them, then nothing: an upload in
     * progress for as long as the test wants. Destroy it to end it.
     */
    function stalledUpload(
      server: ServerProcess,
      token: string,
      size: number,
      sent: number,
    ): ClientRequest {
      return unfinishedUpload(server.baseUrl, token, size, sent);
    }

    /** The registry's rows, read straight from the shared database. */
    async function registryRows(): Promise<{ id: string; size: number; sha256: string }[]> {
      const db = Database.connect(loadConfig({ ...database.env }).config.database);
      try {
        return await db.selectFrom('files').select(['id', 'size', 'sha256']).execute();
      } finally {
        await db.destroy();
      }
    }

    it('go on with a resumable (tus) upload that the other began, cut at 40%', async () => {
      const a = await startInstance();
      const b = await startInstance();
      const token = await login(a);
      // Two whole 8 MiB parts and a tail on S3 by the cut.
      const data = randomBytes(20 * 2 ** 20 + 12345);
      const url = await sendPart(data, tusOptions(a.baseUrl, token));
      const { fileId } = await sendAll(
        data,
        tusOptions(b.baseUrl, token, { uploadUrl: `${b.baseUrl}${new URL(url).pathname}` }),
      );
      const downloaded = await fetch(`${a.baseUrl}/files/${fileId}/download`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(downloaded.status).toBe(200);
      expect(sha256(Buffer.from(await downloaded.arrayBuffer()))).toBe(sha256(data));
    });

    it('serve each other’s files, links and deletions', async () => {
      const a = await startInstance();
      const b = await startInstance();
      const token = await login(a);
      const auth = { authorization: `Bearer ${token}` };

      // 6 MiB: more than one part of the store's multipart upload.
      const data = randomBytes(6 * 2 ** 20 + 17);
      const uploaded = await upload(a, token, data);
      expect(uploaded.status).toBe(201);
      const file = (await uploaded.json()) as { id: string; sha256: string };
      expect(file.sha256).toBe(sha256(data));

      // B, with A's token, serves a range and the headers of the file A took.
      const ranged = await fetch(`${b.baseUrl}/files/${file.id}/download`, {
        headers: { ...auth, range: 'bytes=5242870-5242889' },
      });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(`bytes 5242870-5242889/${data.length}`);
      expect(Buffer.from(await ranged.arrayBuffer())).toEqual(data.subarray(5242870, 5242890));
      const head = await fetch(`${b.baseUrl}/files/${file.id}/download`, {
        method: 'HEAD',
        headers: auth,
      });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(data.length));
      expect(head.headers.get('etag')).toBe(`"${sha256(data)}"`);

      // A link made on A works on B.
      const made = await fetch(`${a.baseUrl}/files/${file.id}/links`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ expiresIn: 600 }),
      });
      expect(made.status).toBe(201);
      const { url } = (await made.json()) as { url: string };
      const viaLink = await fetch(url.replace(a.baseUrl, b.baseUrl));
      expect(viaLink.status).toBe(200);
      expect(sha256(Buffer.from(await viaLink.arrayBuffer()))).toBe(sha256(data));

      // Deleted on B: A answers 404 for its bytes at once (its registry entry of the file, cached
      // when the link was made, goes within AUTH_STATE_TTL_MS, the documented delay).
      const deleted = await fetch(`${b.baseUrl}/files/${file.id}`, {
        method: 'DELETE',
        headers: auth,
      });
      expect(deleted.status).toBe(204);
      const afterDelete = await fetch(`${a.baseUrl}/files/${file.id}/download`, { headers: auth });
      expect(afterDelete.status).toBe(404);
      expect(await bucket.objectKeys()).not.toContain(storageKeyOf(file.id));

      // Uploaded on A after B started, listed on B at once.
      const second = await upload(a, token, randomBytes(1000));
      const { id } = (await second.json()) as { id: string };
      const meta = await fetch(`${b.baseUrl}/files/${id}`, { headers: auth });
      expect(meta.status).toBe(200);
    });

    it('lose nothing when one is killed during uploads, and the other sweeps what it left', async () => {
      const a = await startInstance();
      const b = await startInstance();
      const token = await login(a);

      // While everything below runs, no registered file may lose its object.
      let watching = true;
      const lost: string[] = [];
      const watcher = (async () => {
        while (watching) {
          const objects = new Set(await bucket.objectKeys());
          const rows = await registryRows();
          // Rows are read after the listing: a row seen then had its object before the listing.
          for (const row of rows) {
            if (!objects.has(storageKeyOf(row.id))) {
              // An upload registered between the two reads: look again before calling it lost.
              const found = await bucket.client
                .send(
                  new HeadObjectCommand({
                    Bucket: bucket.config.bucket,
                    Key: bucket.config.prefix + storageKeyOf(row.id),
                  }),
                )
                .then(
                  () => true,
                  () => false,
                );
              if (!found) lost.push(row.id);
            }
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();

      try {
        // Eight clients upload 7 MiB files to A (multipart uploads of two parts) until it dies;
        // B takes uploads all along.
        const acknowledged = new Map<string, string>();
        let killed = false;
        const uploader = async (server: ServerProcess, size: number) => {
          while (!killed) {
            const data = randomBytes(size);
            try {
              const response = await upload(server, token, data);
              if (response.status === 201) {
                acknowledged.set(((await response.json()) as { id: string }).id, sha256(data));
              }
            } catch {
              // the connection died with A
            }
          }
        };
        const clients = [
          ...Array.from({ length: 8 }, () => uploader(a, 7 * 2 ** 20)),
          uploader(b, 100_000),
        ];
        try {
          await eventually(() => acknowledged.size >= 24, '24 uploads acknowledged');
          // One more upload to A sends 17 MiB of the 32 it announces and then waits: its
          // multipart upload (made once the store has read past its first 5 MiB part) is
          // certainly half-sent when A dies, whatever the other clients are doing then.
          const stalled = stalledUpload(a, token, 32 * 2 ** 20, 17 * 2 ** 20);
          // Its multipart upload is the one with three parts: the others' 7 MiB make two at
          // most. (Found by age instead, a slow 7 MiB upload on a busy machine passed for it.)
          await eventually(async () => {
            for (const { Key, UploadId } of await bucket.multipartUploads()) {
              // An upload may complete between the two calls: then it has no parts to list.
              const { Parts } = await bucket.client
                .send(new ListPartsCommand({ Bucket: bucket.config.bucket, Key, UploadId }))
                .catch(() => ({ Parts: [] }));
              if ((Parts ?? []).length >= 3) return true;
            }
            return false;
          }, 'the stalled upload with three parts on S3');
          await a.stop('SIGKILL');
          killed = true;
          stalled.destroy();
          await Promise.all(clients);
          expect((await bucket.multipartUploads()).length).toBeGreaterThan(0);
        } finally {
          killed = true;
          await Promise.all(clients);
        }

        // B's sweeper takes them once their marks have gone unrenewed for SWEEP_MIN_AGE_SECONDS,
        // and their objects and uploads are as old: about a minute from now.
        const agree = async () => {
          const rows = await registryRows();
          const objects = await bucket.objectKeys();
          const uploads = await bucket.multipartUploads();
          return (
            uploads.length === 0 &&
            JSON.stringify(objects) === JSON.stringify(rows.map((r) => storageKeyOf(r.id)).sort())
          );
        };
        const deadline = Date.now() + 150_000;
        while (!(await agree())) {
          if (Date.now() > deadline) throw new Error('the bucket and the registry never agreed');
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        watching = false;
        await watcher;
        expect(lost).toEqual([]);

        // Every acknowledged upload is registered; every row's object holds its recorded bytes.
        const rows = await registryRows();
        const byId = new Map(rows.map((row) => [row.id, row]));
        for (const [id, digest] of acknowledged) expect(byId.get(id)?.sha256).toBe(digest);
        for (const row of rows) {
          const object = await bucket.client.send(
            new GetObjectCommand({
              Bucket: bucket.config.bucket,
              Key: bucket.config.prefix + storageKeyOf(row.id),
            }),
          );
          const bytes = Buffer.from(await object.Body!.transformToByteArray());
          expect({ size: bytes.length, sha256: sha256(bytes) }).toEqual({
            size: row.size,
            sha256: row.sha256,
          });
        }
        // B's sweeper did it (its log lines are written in batches, a moment later).
        await b.waitForLogLine((line) =>
          /removed an upload abandoned mid-way|discarded a write/.test(String(line.msg)),
        );
      } finally {
        // However the test ends, the watcher stops before Jest tears the environment down.
        watching = false;
        await watcher;
      }
    }, 240_000);
  },
);
