import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs once after the last test file, failed or not: stops the Ceph RGW that global-setup.ts
 * started (it names the folder in TEST_S3_RGW_DIR). Self-contained: Jest loads this file with
 * Node's own resolution, which finds no `./global-setup.js`.
 */
export default function globalTeardown(): void {
  const dir = process.env.TEST_S3_RGW_DIR;
  if (!dir) return;
  delete process.env.TEST_S3_RGW_DIR;
  const script = fileURLToPath(new URL('../../scripts/ceph-rgw.sh', import.meta.url));
  const { status, stderr } = spawnSync('bash', [script, 'stop', dir], { encoding: 'utf8' });
  if (status !== 0) throw new Error(`scripts/ceph-rgw.sh stop ${dir} failed: ${stderr}`);
}
