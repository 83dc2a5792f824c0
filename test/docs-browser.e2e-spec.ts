import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestApp } from './support/test-app.js';

/**
 * Swagger UI must render in a real browser under helmet's Content-Security-Policy. Debian's
 * chromium is installed by .ci/run, which also sets REQUIRE_BROWSER=1 so that CI never skips this.
 */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) =>
  existsSync(path),
);
const required = process.env.REQUIRE_BROWSER === '1';
if (!CHROMIUM && !required) {
  console.warn('Swagger UI browser check: skipped, no chromium here (apt-get install chromium).');
}

(CHROMIUM || required ? describe : describe.skip)('Swagger UI in headless Chromium', () => {
  let t: TestApp;
  let profile: string;
  beforeAll(async () => {
    if (!CHROMIUM) throw new Error('REQUIRE_BROWSER=1 but chromium is not installed');
    t = await TestApp.start('sqlite');
    profile = await mkdtemp(join(tmpdir(), 'chromium-profile-'));
  });
  afterAll(async () => {
    await t?.close();
    await rm(profile, { recursive: true, force: true });
  });

  function chromium(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--enable-logging=stderr',
      '--virtual-time-budget=10000',
    ];
    const child = spawn(CHROMIUM!, [...flags, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((done) => child.once('close', () => done({ stdout, stderr })));
  }

  it('renders every operation and the Authorize button, with no CSP violation', async () => {
    const { stdout: dom, stderr } = await chromium('--dump-dom', `${t.baseUrl}/docs`);
    expect(dom).toContain('File delivery service');
    expect(dom).toMatch(/class="btn authorize/);
    for (const path of ['/auth/login', '/auth/me', '/admin/users', '/health']) {
      expect(dom).toContain(`data-path="${path}"`);
    }
    expect(stderr).not.toMatch(/Content Security Policy|Refused to/);
  });

  it('takes a screenshot of it', async () => {
    const png = join(profile, 'docs.png');
    await chromium('--window-size=1280,1000', `--screenshot=${png}`, `${t.baseUrl}/docs`);
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(20_000);
  });

  it('is not told to upgrade its requests to https', async () => {
    const response = await t.http.get('/docs');
    expect(response.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
  });
});
