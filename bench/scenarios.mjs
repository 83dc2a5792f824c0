// Load the rig does not generate, for bench/run.sh. Each prints one line of key=value pairs.
//   node bench/scenarios.mjs downloads BASE TOKEN FILE_ID N     N concurrent downloads of one file
//   node bench/scenarios.mjs burst BASE TOKEN IMAGE N            N blur requests at once, retried on 503 and 429
//   node bench/scenarios.mjs hostile BASE TOKEN N                a 20000×20000 PNG header, N times in turn
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { crc32, deflateSync } from 'node:zlib';

const [command, base, token, ...args] = process.argv.slice(2);
const auth = { authorization: `Bearer ${token}` };

function get(url) {
  return new Promise((done, fail) => {
    const req = request(url, { headers: auth }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => done({ status: res.statusCode, bytes }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end();
  });
}

function post(url, field, filename, type, data) {
  const boundary = `----bench${Date.now()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
  );
  const body = Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return new Promise((done, fail) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          done({ status: res.statusCode, retryAfter: Number(res.headers['retry-after'] ?? 0) }),
        );
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

const seconds = (since) => (performance.now() - since) / 1000;

if (command === 'downloads') {
  const [id, n] = args;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: Number(n) }, () => get(`${base}/files/${id}/download`)),
  );
  const elapsed = seconds(started);
  const bytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const failed = results.filter((r) => r.status !== 200).length;
  console.log(
    `streams=${n} total_mbps=${(bytes / elapsed / 1e6).toFixed(0)} secs=${elapsed.toFixed(1)} failed=${failed}`,
  );
} else if (command === 'burst') {
  const [image, n] = args;
  const data = readFileSync(image);
  const statuses = {};
  let retries = 0;
  const one = async () => {
    for (;;) {
      const { status, retryAfter } = await post(
        `${base}/images/blur?sigma=5`,
        'image',
        'photo.jpg',
        'image/jpeg',
        data,
      );
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 503 && status !== 429) return status;
      retries++;
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
    }
  };
  const started = performance.now();
  const finals = await Promise.all(Array.from({ length: Number(n) }, one));
  console.log(
    `requests=${n} ok=${finals.filter((s) => s === 200).length} retries_after_503_or_429=${retries} secs=${seconds(started).toFixed(1)} statuses=${JSON.stringify(statuses)}`,
  );
} else if (command === 'hostile') {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20000, 0);
  ihdr.writeUInt32BE(20000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const bomb = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  const times = [];
  const statuses = {};
  for (let i = 0; i < Number(args[0]); i++) {
    const started = performance.now();
    const { status } = await post(`${base}/images/blur`, 'image', 'bomb.png', 'image/png', bomb);
    times.push(performance.now() - started);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  times.sort((a, b) => a - b);
  const health = await get(`${base}/health`);
  console.log(
    `bytes=${bomb.length} median_ms=${times[Math.floor(times.length / 2)].toFixed(1)} max_ms=${times.at(-1).toFixed(1)} statuses=${JSON.stringify(statuses)} health_after=${health.status}`,
  );
} else {
  console.error('usage: see the head of bench/scenarios.mjs');
  process.exit(2);
}
