import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { createApp } from '../../src/app.factory.js';
import { AppConfig, loadConfig } from '../../src/config/app-config.js';
import { Database } from '../../src/database/database.js';
import { FileStore } from '../../src/files/storage/file-store.js';
import { storageKeyOf } from '../../src/files/storage/storage-key.js';
import { multipartBody, type FilePart } from './multipart.js';
import { storageEnvOf, TestBucket } from './s3.js';
import {
  createTestDatabase,
  SHARED_JWT_SECRET,
  type Dialect,
  type TestDatabase,
} from './test-database.js';

/** Where every test app keeps its bytes unless it names a store: `local` (default) or `s3`. */
const STORAGE_DRIVER_UNDER_TEST = process.env.TEST_STORAGE_DRIVER ?? 'local';

export const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
}

/**
 * The real application on a real port, over a storage folder and a database of its own.
 * `env` overrides the variables the app would read from the environment.
 */
export class TestApp {
  private userCount = 0;

  private stopped = false;
  /** False for an app started beside another, whose storage it uses. */
  private ownsStorage = true;

  private constructor(
    readonly app: NestExpressApplication,
    readonly config: AppConfig,
    readonly baseUrl: string,
    private readonly database: TestDatabase,
    private readonly bucket: TestBucket | undefined,
  ) {}

  static async start(dialect: Dialect, env: Record<string, string> = {}): Promise<TestApp> {
    const storageDir = await mkdtemp(join(tmpdir(), 'file-service-test-'));
    const database = await createTestDatabase(dialect);
    // TEST_STORAGE_DRIVER=s3 runs every app in the run's bucket (under a prefix of its own),
    // but for those that ask for the local store by name.
    const bucket =
      STORAGE_DRIVER_UNDER_TEST === 's3' && env.STORAGE_DRIVER === undefined
        ? new TestBucket(env.S3_PREFIX === undefined ? {} : { prefix: env.S3_PREFIX })
        : undefined;
    try {
      const { config } = loadConfig({
        STORAGE_DIR: storageDir,
        LOG_LEVEL: 'silent',
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        ...database.env,
        // S3 requires a JWT secret, as PostgreSQL does: instances sharing a bucket share it.
        ...(bucket && { JWT_SECRET: SHARED_JWT_SECRET, ...storageEnvOf(bucket) }),
        ...env,
      });
      const app = await createApp(config);
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      return new TestApp(app, config, `http://127.0.0.1:${port}`, database, bucket);
    } catch (error) {
      await bucket?.cleanup();
      await database.drop();
      await rm(storageDir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Another instance over `first`'s storage folder and database (and bucket prefix), with `env`
   * on top: the same deployment restarted, or a second instance beside it. Closing it leaves
   * the storage and database, which are `first`'s.
   */
  static async startBeside(first: TestApp, env: Record<string, string> = {}): Promise<TestApp> {
    const database = first.config.database;
    const beside = await TestApp.start(database.dialect, {
      STORAGE_DIR: first.config.storageDir,
      DATABASE_URL: database.dialect === 'postgres' ? database.url : `sqlite:${database.file}`,
      JWT_SECRET: first.config.jwt.secret,
      ...(first.config.storage.driver === 's3' && { S3_PREFIX: first.config.storage.prefix }),
      ...env,
    });
    beside.ownsStorage = false;
    return beside;
  }

  /** A supertest client for this app's port. */
  get http() {
    return request(this.baseUrl);
  }

  async login(username: string, password: string): Promise<string> {
    const response = await this.http.post('/auth/login').send({ username, password }).expect(200);
    return response.body.access_token as string;
  }

  adminToken(): Promise<string> {
    return this.login(ADMIN.username, ADMIN.password);
  }

  /** Creates a user through the admin API and logs them in. */
  async createUser(role: 'user' | 'admin' = 'user', adminToken?: string): Promise<TestUser> {
    const username = `user${++this.userCount}`;
    const password = `password-of-${username}`;
    const { body } = await this.http
      .post('/admin/users')
      .auth(adminToken ?? (await this.adminToken()), { type: 'bearer' })
      .send({ username, password, role })
      .expect(201);
    return { id: body.id, username, password, token: await this.login(username, password) };
  }

  /** The keys the app's store holds, sorted: on local disk or in S3 alike. */
  async storedKeys(): Promise<string[]> {
    const keys: string[] = [];
    for await (const { key } of this.app.get(FileStore).list()) keys.push(key);
    return keys.sort();
  }

  /** Writes the store began and never finished: staged files, incomplete multipart uploads. */
  async unfinishedWrites(): Promise<string[]> {
    const keys: string[] = [];
    for await (const { key } of this.app.get(FileStore).incompleteWrites()) keys.push(key);
    return keys.sort();
  }

  /** The keys of the uploads in progress, as the registry database knows them (pending marks). */
  async pendingUploads(): Promise<string[]> {
    const rows = await this.app
      .get(Database)
      .selectFrom('pendingUploads')
      .select('storageKey')
      .execute();
    return rows.map((row) => row.storageKey).sort();
  }

  /** Whether a request holds resumable upload `id`'s lock now, as the database knows it. */
  async resumableUploadLocked(id: string): Promise<boolean> {
    const row = await this.app
      .get(Database)
      .selectFrom('resumableUploads')
      .select('lockedBy')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.lockedBy != null;
  }

  /** Whatever uploads in progress hold: pending marks, and writes the store has not finished. */
  async uploadLeftovers(): Promise<string[]> {
    return [...(await this.pendingUploads()), ...(await this.unfinishedWrites())];
  }

  /** Removes the stored bytes of file `id` behind the service's back, as if they were lost. */
  loseBytes(id: string): Promise<void> {
    return this.app.get(FileStore).remove(storageKeyOf(id));
  }

  /**
   * POST /files with `data` as its one part, sent byte for byte as a browser would; `query` is
   * the URL's (`?expiresIn=60`, say).
   */
  upload(token: string, data: Buffer, part: FilePart = { filename: 'file.bin' }, query = '') {
    const { body, contentType } = multipartBody(part, data);
    return this.http
      .post(`/files${query}`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', contentType)
      .send(body);
  }

  /** Stops the server (a graceful stop), keeping its storage and database for an app beside it. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.app.close();
  }

  async close(): Promise<void> {
    await this.stop();
    await this.database.drop(); // its own, even beside another: unused then
    if (!this.ownsStorage) return;
    await this.bucket?.cleanup();
    await rm(this.config.storageDir, { recursive: true, force: true });
  }
}
