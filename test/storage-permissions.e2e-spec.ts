import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIALECTS } from './support/test-database.js';
import { TestApp } from './support/test-app.js';

/** `dir` and everything below it, each with its permission bits. */
async function modesBelow(dir: string): Promise<{ path: string; mode: string }[]> {
  const entries = await readdir(dir, { recursive: true });
  return Promise.all(
    ['', ...entries].map(async (entry) => ({
      path: entry || '.',
      mode: ((await stat(join(dir, entry))).mode & 0o777).toString(8),
    })),
  );
}

describe.each(DIALECTS)('what the service writes under STORAGE_DIR (%s)', (dialect) => {
  let parent: string;
  let t: TestApp;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'file-service-modes-'));
    // A STORAGE_DIR the service creates itself.
    // What the local store writes is checked too.
    t = await TestApp.start(dialect, {
      STORAGE_DIR: join(parent, 'storage'),
      STORAGE_DRIVER: 'local',
    });
  });
  afterAll(async () => {
    await t.close();
    await rm(parent, { recursive: true, force: true });
  });

  it('is readable by its owner only: uploads, the registry, secrets and their folders', async () => {
    const token = await t.adminToken();
    await t.upload(token, Buffer.from('private bytes')).expect(201);
    await t.http.get('/health').expect(200);

    const modes = await modesBelow(t.config.storageDir);
    // Something of each kind is there to be checked.
    expect(modes.map((m) => m.path)).toEqual(expect.arrayContaining(['.', 'files', 'tmp']));
    expect(modes.some((m) => /^files\/..\/..\/.{36}$/.test(m.path))).toBe(true);
    if (dialect === 'sqlite') {
      // With PostgreSQL, JWT_SECRET is required: no secret is generated here.
      expect(modes.map((m) => m.path)).toEqual(
        expect.arrayContaining([
          'jwt-secret',
          'registry.sqlite',
          'registry.sqlite-wal',
          'registry.sqlite-shm',
        ]),
      );
    }
    expect(modes.filter((m) => (parseInt(m.mode, 8) & 0o077) !== 0)).toEqual([]);
  });
});
