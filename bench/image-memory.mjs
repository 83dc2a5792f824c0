// The image memory budget (issue 9), measured on the built server as `npm start` runs it.
//   npx nest build && node bench/image-memory.mjs [SCENARIO...]     (all five when none is named)
// Each scenario starts its own server (`node --max-semi-space-size=16 dist/main.js`, the Node that
// runs this script, LOG_LEVEL unset: info, a fresh STORAGE_DIR, a free PORT), logs in, waits 2 s,
// reads the idle VmRSS, samples VmRSS every 20 ms while the requests run and 3 s after, stops the
// server with SIGTERM and prints one line: statuses, wall seconds, idle / peak RSS and the growth.
// Images are made with sharp in a temp dir; the servers' logs are written there too.
// SERVICE_DIR=DIR runs DIR/dist/main.js instead (a copy of dist/ with a package.json and a link to
// node_modules beside it), so that a rebuild of dist/ during the run does not pull it away.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const SAMPLE_MS = 20;
const AFTER_MS = 3000;
const ADMIN_PASSWORD = 'bench-image-memory-password';
const serviceDir = process.env.SERVICE_DIR ?? process.cwd();
const work = mkdtempSync(join(tmpdir(), 'image-memory-'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (kib) => (kib / 1024).toFixed(0);

/** VmRSS and VmHWM of a process, in KiB. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

function call(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((done, fail) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () =>
        done({
          status: res.statusCode,
          retryAfter: Number(res.headers['retry-after'] ?? 0),
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** A multipart body with one part, `image`, made once and sent as often as needed. */
function multipart(data, filename, type) {
  const boundary = `----imagememory${Date.now()}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${boundary}` };
}

async function startServer(name, env) {
  const port = await freePort();
  const storage = mkdtempSync(join(work, `storage-${name}-`));
  const log = openSync(join(work, `server-${name}.log`), 'w');
  const child = spawn(process.execPath, ['--max-semi-space-size=16', 'dist/main.js'], {
    env: {
      ...process.env,
      LOG_LEVEL: undefined,
      PORT: String(port),
      STORAGE_DIR: storage,
      ADMIN_PASSWORD,
      ...env,
    },
    cwd: serviceDir,
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => child.once('exit', r));
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0; ; tries++) {
    const health = await call(`${base}/health`).catch(() => null);
    if (health?.status === 200) break;
    if (child.exitCode !== null || tries > 300) {
      throw new Error(`${name}: the server did not start (see ${work}/server-${name}.log)`);
    }
    await sleep(100);
  }
  const login = await call(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
  });
  if (login.status !== 200) throw new Error(`${name}: login gave ${login.status}`);
  const token = JSON.parse(login.body).access_token;
  const stop = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(storage, { recursive: true, force: true });
  };
  return { base, token, pid: child.pid, stop };
}

/**
 * `count` blur requests sent at once; with `retry`, each is sent again after Retry-After on 503
 * or 429 until it gets something else (bench/scenarios.mjs `burst`).
 */
async function blurAll({ base, token }, image, query, count, retry) {
  const statuses = {};
  const errors = new Set();
  const one = async () => {
    for (;;) {
      const { status, retryAfter, body } = await call(`${base}/images/blur?${query}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': image.type,
          'content-length': image.body.length,
        },
        body: image.body,
      });
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 400 && status !== 503 && status !== 429) {
        let message = body.toString();
        try {
          message = JSON.parse(message).message ?? message;
        } catch {
          // not JSON: the text as it came
        }
        errors.add(String(message).slice(0, 100));
      }
      if (!retry || (status !== 503 && status !== 429)) return status;
      await sleep(Math.max(retryAfter, 1) * 1000);
    }
  };
  await Promise.all(Array.from({ length: count }, one));
  return { statuses, errors: [...errors] };
}

async function scenario({ name, env = {}, image, query, count, retry = false, after10s = false }) {
  const server = await startServer(name, env);
  try {
    await sleep(2000);
    const idle = memoryOf(server.pid).rss;
    let peak = idle;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, memoryOf(server.pid).rss);
      } catch {
        // the server is gone: the requests fail and say so
      }
    }, SAMPLE_MS);
    const started = performance.now();
    const { statuses, errors } = await blurAll(server, image, query, count, retry);
    const secs = (performance.now() - started) / 1000;
    await sleep(AFTER_MS);
    clearInterval(sampler);
    const { rss, hwm } = memoryOf(server.pid);
    peak = Math.max(peak, rss);
    let line =
      `${name} requests=${count} statuses=${JSON.stringify(statuses)} secs=${secs.toFixed(1)} ` +
      `idle_rss_mib=${mib(idle)} peak_rss_mib=${mib(peak)} growth_mib=${mib(peak - idle)} ` +
      `hwm_mib=${mib(hwm)}`;
    if (errors.length > 0) line += ` errors=${JSON.stringify(errors)}`;
    if (after10s) {
      await sleep(10_000 - AFTER_MS);
      line += ` rss_10s_after_mib=${mib(memoryOf(server.pid).rss)}`;
    }
    console.log(line);
  } finally {
    await server.stop();
  }
}

// The inputs: flat colour compresses to almost nothing; noise, as in test/images.e2e-spec.ts,
// is the worst case for every encoder.
async function makeImage(file, pipeline, type) {
  const path = join(work, file);
  writeFileSync(path, await pipeline.toBuffer());
  return multipart(readFileSync(path), file, type);
}
const flat = (width, height) =>
  sharp({ create: { width, height, channels: 3, background: '#3366cc' } });
const noise = (width, height) =>
  sharp({
    create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 70 } },
  });

const flat49 = await makeImage('flat-7000x7000.png', flat(7000, 7000).png(), 'image/png');
const noise16 = await makeImage('noise-4000x4000.jpg', noise(4000, 4000).jpeg(), 'image/jpeg');
const noise12 = await makeImage('noise-4000x3000.jpg', noise(4000, 3000).jpeg(), 'image/jpeg');

const slow = { IMAGE_QUEUE_TIMEOUT_MS: '120000' };
const scenarios = [
  {
    name: 'avif-49mp-x4-defaults',
    image: flat49,
    query: 'sigma=5&format=avif',
    count: 4,
  },
  {
    name: 'webp-49mp-x4-defaults',
    image: flat49,
    query: 'sigma=5&format=webp',
    count: 4,
  },
  {
    name: 'avif-16mp-x4-budget1024',
    env: { IMAGE_MEMORY_BUDGET_MB: '1024', ...slow },
    image: noise16,
    query: 'sigma=5&format=avif',
    count: 4,
  },
  {
    name: 'avif-16mp-x4-budget8192',
    env: { IMAGE_MEMORY_BUDGET_MB: '8192', ...slow },
    image: noise16,
    query: 'sigma=5&format=avif',
    count: 4,
  },
  {
    name: 'burst-12mp-jpeg-x32-defaults',
    image: noise12,
    query: 'sigma=5',
    count: 32,
    retry: true,
    after10s: true,
  },
];

const chosen = process.argv.slice(2);
console.log(
  `node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ` +
    `LD_PRELOAD=${process.env.LD_PRELOAD ?? '(none)'}, LOG_LEVEL=info, ${serviceDir}/dist, ` +
    `work dir ${work}`,
);
try {
  for (const s of scenarios) {
    if (chosen.length === 0 || chosen.includes(s.name)) await scenario(s);
  }
} finally {
  // The images go; the servers' logs stay for reading.
  for (const file of ['flat-7000x7000.png', 'noise-4000x4000.jpg', 'noise-4000x3000.jpg']) {
    rmSync(join(work, file), { force: true });
  }
}
