// A tus client for bench/uploads.sh, as lean as curl: creates an upload of FILE at BASE and sends
// it in PATCHes of CHUNK_MIB (64) MiB, each streamed from the file (no copy in memory). Prints the
// file id and then the MB/s (10^6 bytes/s) from the creation to the last answer.
//
//   TOKEN=... node bench/tus-upload.mjs BASE FILE
import { createReadStream, statSync } from 'node:fs';
import { request } from 'node:http';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

const [base, file] = process.argv.slice(2);
const chunk = Number(process.env.CHUNK_MIB ?? 64) * 1024 * 1024;
const size = statSync(file).size;
const auth = { Authorization: `Bearer ${process.env.TOKEN}`, 'Tus-Resumable': '1.0.0' };

function send(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...auth, ...headers } }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode < 300
          ? resolve(res)
          : reject(new Error(`${method} ${url}: ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

const started = performance.now();
const metadata = `filename ${Buffer.from(basename(file)).toString('base64')}`;
const created = await send('POST', `${base}/files/uploads`, {
  'Upload-Length': String(size),
  'Upload-Metadata': metadata,
});
const url = new URL(created.headers.location, base).toString();
let last;
for (let offset = 0; offset < size; offset += chunk) {
  const end = Math.min(offset + chunk, size);
  last = await send(
    'PATCH',
    url,
    {
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(offset),
      'Content-Length': String(end - offset),
    },
    createReadStream(file, { start: offset, end: end - 1, highWaterMark: 1024 * 1024 }),
  );
}
const seconds = (performance.now() - started) / 1000;
console.log(last.headers['file-id']);
console.log((size / seconds / 1e6).toFixed(1));
