// N downloads whose clients read the headers, then stop reading; the server's descriptors and RSS
// before, while they hang, and after DOWNLOAD_IDLE_TIMEOUT_SECONDS should have ended them.
//
//   SERVER_PID=1234 node bench/stalled-downloads.mjs BASE TOKEN FILE_ID [N]
//
//   BASE, TOKEN, FILE_ID  the running service, a token of a user who may read the file, the file (a
//                         big one, e.g. 1 GiB: the socket buffers of both ends must not take it all)
//   N                     downloads to open (300)
//   SERVER_PID            the service's process id, for /proc/PID/fd and /proc/PID/status (needed)
//   SIGNED=1              download through one signed link, with no token (DOWNLOADS_PER_LINK applies)
//   IDLE_SECONDS          the service's DOWNLOAD_IDLE_TIMEOUT_SECONDS (60): how long to expect to wait
//
// Prints one line of key=value pairs per sample: open descriptors, those on the file, sockets, RSS.
// Run the service with DOWNLOADS_PER_USER (or DOWNLOADS_PER_LINK) at N or more to see N stalled
// at once; at the defaults, the downloads past the cap are answered 429 (counted in statuses=).
import { readdir, readFile, readlink } from 'node:fs/promises';
import { connect } from 'node:net';

const [base, token, fileId, n = '300'] = process.argv.slice(2);
const pid = process.env.SERVER_PID;
if (!base || !token || !fileId || !pid) {
  console.error('usage: SERVER_PID=PID node bench/stalled-downloads.mjs BASE TOKEN FILE_ID [N]');
  process.exit(2);
}
const idleSeconds = Number(process.env.IDLE_SECONDS ?? 60);
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function sample(phase) {
  const fds = await readdir(`/proc/${pid}/fd`);
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
  );
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKib = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  const line = {
    phase,
    fds: targets.length,
    file_fds: targets.filter((target) => target.includes(fileId)).length,
    sockets: targets.filter((target) => target.startsWith('socket:')).length,
    rss_mib: (rssKib / 1024).toFixed(0),
  };
  console.log(
    Object.entries(line)
      .map(([key, value]) => `${key}=${value}`)
      .join(' '),
  );
  return line;
}

async function downloadPath() {
  if (process.env.SIGNED !== '1') return { path: `/files/${fileId}/download`, auth: true };
  const response = await fetch(`${base}/files/${fileId}/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ expiresIn: 3600 }),
  });
  if (response.status !== 201) throw new Error(`making a link answered ${response.status}`);
  const url = new URL((await response.json()).url);
  return { path: url.pathname + url.search, auth: false };
}

/** A GET that reads up to the end of the headers, then pauses: its status and socket. */
function stalled(path, auth) {
  const { hostname, port } = new URL(base);
  return new Promise((done) => {
    const socket = connect(Number(port || 80), hostname);
    let seen = Buffer.alloc(0);
    const finish = (status) => {
      socket.off('data', onData);
      done({ status, socket });
    };
    const onData = (chunk) => {
      seen = Buffer.concat([seen, chunk]);
      if (seen.indexOf('\r\n\r\n') < 0) return;
      socket.pause();
      finish(/^HTTP\/1\.1 (\d{3})/.exec(seen.toString('latin1'))?.[1] ?? 'garbled');
    };
    socket.on('data', onData);
    socket.on('error', () => finish('error'));
    socket.once('close', () => finish('closed'));
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        (auth ? `Authorization: Bearer ${token}\r\n` : '') +
        '\r\n',
    );
  });
}

await sample('before');
const { path, auth } = await downloadPath();
const started = performance.now();
const downloads = await Promise.all(Array.from({ length: Number(n) }, () => stalled(path, auth)));
const statuses = {};
for (const { status } of downloads) statuses[status] = (statuses[status] ?? 0) + 1;
console.log(`opened=${n} statuses=${JSON.stringify(statuses)} signed=${!auth}`);
await sleep(2000);
const during = await sample('stalled');

// Sampled every second until the file's descriptors are back or the idle timeout has long passed.
let releasedAfter;
while ((performance.now() - started) / 1000 < idleSeconds * 1.25 + 30) {
  await sleep(1000);
  const { file_fds } = await sample('waiting');
  if (file_fds === 0) {
    releasedAfter = (performance.now() - started) / 1000;
    break;
  }
}
await sleep(2000);
await sample('after_idle_timeout');
console.log(
  releasedAfter === undefined
    ? `released=no file_fds_while_stalled=${during.file_fds}`
    : `released=yes secs_after_opening=${releasedAfter.toFixed(1)} file_fds_while_stalled=${during.file_fds}`,
);
for (const { socket } of downloads) socket.destroy();
await sleep(2000);
await sample('clients_closed');
