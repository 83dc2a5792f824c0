import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';

/**
 * Runs once before the workers start; what it puts in process.env they inherit.
 * - PostgreSQL runs in every e2e suite when TEST_DATABASE_URL is set (CI sets it); then it must
 *   answer, or the run fails here rather than skip anything.
 * - The S3 tests run against TEST_S3_ENDPOINT when it is set, else against a Ceph RGW started
 *   here for the whole run (and stopped by global-teardown.ts). Either must answer, or the run
 *   fails here: S3 tests never skip.
 */
export default async function globalSetup(): Promise<void> {
  await checkDatabase();
  await setUpS3();
}

async function checkDatabase(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) {
    console.log(
      '\nDatabases under test: SQLite only. Set TEST_DATABASE_URL=postgres://... to test PostgreSQL too.',
    );
    return;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(`TEST_DATABASE_URL is set, but PostgreSQL does not answer: ${String(error)}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
  console.log('\nDatabases under test: SQLite and PostgreSQL.');
}

/** Set while a cluster started here runs: global-teardown.ts stops it. */
const RGW_DIR_VARIABLE = 'TEST_S3_RGW_DIR';

async function setUpS3(): Promise<void> {
  const given = process.env.TEST_S3_ENDPOINT;
  if (given) {
    if (process.env.TEST_S3_ACCESS_KEY_ID) {
      useKeys(process.env.TEST_S3_ACCESS_KEY_ID, process.env.TEST_S3_SECRET_ACCESS_KEY ?? '');
    }
    await checkGivenBucket(given);
    console.log(`S3 under test: ${given}, bucket ${process.env.TEST_S3_BUCKET}.`);
    return;
  }
  const dir = rgwDir();
  const started = Date.now();
  // A run killed before its teardown would leave the daemons running until the next run.
  process.once('exit', () => stopStarted());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopStarted();
      process.kill(process.pid, signal);
    });
  }
  process.env[RGW_DIR_VARIABLE] = dir;
  const env = await startRgw(dir);
  exportToWorkers(env);
  useKeys(env.accessKeyId, env.secretAccessKey);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`S3 under test: Ceph RGW at ${env.endpoint}, started in ${seconds} s (in ${dir}).`);
}

/**
 * TEST_S3_ENDPOINT must answer, with TEST_S3_BUCKET (files-test), TEST_S3_REGION (us-east-1) and
 * TEST_S3_ACCESS_KEY_ID and TEST_S3_SECRET_ACCESS_KEY (else the SDK's default credentials).
 */
async function checkGivenBucket(endpoint: string): Promise<void> {
  const env = {
    endpoint,
    bucket: process.env.TEST_S3_BUCKET || 'files-test',
    region: process.env.TEST_S3_REGION || 'us-east-1',
  };
  exportToWorkers(env);
  const client = new S3Client({ endpoint, region: env.region, forcePathStyle: true });
  try {
    await client.send(new HeadBucketCommand({ Bucket: env.bucket }));
  } catch (error) {
    throw new Error(
      `TEST_S3_ENDPOINT is set, but bucket ${env.bucket} there does not answer: ${String(error)}`,
      { cause: error },
    );
  } finally {
    client.destroy();
  }
}

/**
 * The keys the workers' S3 clients find first in the SDK's default chain. They replace whatever
 * the developer's shell has, whose session token would otherwise be sent along.
 */
function useKeys(accessKeyId: string, secretAccessKey: string): void {
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
}

/** What test/support/s3.ts reads in the workers. */
function exportToWorkers(env: Omit<S3TestEnvironment, 'accessKeyId' | 'secretAccessKey'>): void {
  process.env.TEST_S3_ENDPOINT = env.endpoint;
  process.env.TEST_S3_BUCKET = env.bucket;
  process.env.TEST_S3_REGION = env.region;
}

/** Stops the cluster started here, if it still runs. */
function stopStarted(): void {
  const dir = process.env[RGW_DIR_VARIABLE];
  if (!dir) return;
  delete process.env[RGW_DIR_VARIABLE];
  stopRgw(dir);
}

// The Ceph RGW, run by scripts/ceph-rgw.sh (which installs Debian's Ceph packages when they are
// missing). Here rather than in a module of its own: Jest loads the global setup with Node's own
// resolution, which finds no `./x.js` for a `./x.ts`.

const SCRIPT = fileURLToPath(new URL('../../scripts/ceph-rgw.sh', import.meta.url));

/** What the tests need to reach a bucket; the keys are the script's fixed test keys. */
interface S3TestEnvironment {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * One folder per checkout (not per run): a run killed before its teardown leaves its daemons
 * recorded there, and the next run in the same checkout stops them. Other checkouts on the same
 * machine (worktrees, CI's clone) have folders of their own and are left alone. TEST_RGW_DIR
 * names another.
 */
function rgwDir(): string {
  // Two runs at once in one checkout (CI's legs) name a folder each.
  if (process.env.TEST_RGW_DIR) return process.env.TEST_RGW_DIR;
  const checkout = createHash('sha256').update(SCRIPT).digest('hex').slice(0, 12);
  return join(tmpdir(), `file-service-rgw-${checkout}`);
}

/** Starts Ceph (mon, OSD, RGW) in `dir` on free loopback ports: about 16 s. */
async function startRgw(dir: string): Promise<S3TestEnvironment> {
  // Daemons a killed run left behind: the script refuses to start over them.
  stopRgw(dir);
  const [port, monPort] = [await freePort(), await freePort()];
  const log: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, 'start', dir, String(port)], {
      // The mon would take the first free port from 3300, which a start in another checkout
      // may be about to take too.
      env: { ...process.env, CEPH_MON_PORT: String(monPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      log.push(text);
      process.stderr.write(text);
    });
    child.on('error', reject).on('close', resolve);
  });
  if (code !== 0) {
    stopRgw(dir);
    throw new Error(
      `The S3 tests need a Ceph RGW, and scripts/ceph-rgw.sh could not start one (exit ${code}; ` +
        `logs in ${dir}/log). Or set TEST_S3_ENDPOINT to use a running S3 server.\n` +
        // The script's own lines; the daemons' log tails it printed are above, as it ran.
        log
          .join('')
          .split('\n')
          .filter((line) => line.startsWith('ceph-rgw:'))
          .join('\n'),
    );
  }
  // The script's summary: `export NAME=value` lines.
  const vars = Object.fromEntries(
    [...readFileSync(join(dir, 'env'), 'utf8').matchAll(/^export (\w+)="?([^"\n]*)"?$/gm)].map(
      ([, name, value]) => [name, value],
    ),
  );
  return {
    endpoint: vars.S3_ENDPOINT,
    bucket: vars.S3_BUCKET,
    region: vars.S3_REGION,
    accessKeyId: vars.S3_ACCESS_KEY_ID,
    secretAccessKey: vars.S3_SECRET_ACCESS_KEY,
  };
}

/** Stops the daemons recorded in `dir`, if any; synchronous, so it can run as the process exits. */
function stopRgw(dir: string): void {
  const { status, stderr } = spawnSync('bash', [SCRIPT, 'stop', dir], { encoding: 'utf8' });
  // "no such directory": nothing was ever started there.
  if (status !== 0 && !/no such directory/.test(stderr)) {
    throw new Error(`scripts/ceph-rgw.sh stop ${dir} failed: ${stderr}`);
  }
}

/** A TCP port nothing listens on now (the kernel's pick for a port-0 listener). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
