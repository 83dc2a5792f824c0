// node bench/downloads.mjs URL N CONCURRENCY [TOKEN]: exactly N GETs of URL, CONCURRENCY at a
// time over keep-alive connections, each body read and dropped. Exits non-zero if any answer is
// not a 200. A fixed count, where wrk runs for a time: bench/instructions.sh divides by it.
import http from 'node:http';

const [url, count, concurrency, token] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5],
];
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const headers = token ? { authorization: `Bearer ${token}` } : {};
let started = 0;
let failed = 0;

function one() {
  return new Promise((resolve) => {
    http
      .get(url, { agent, headers }, (res) => {
        if (res.statusCode !== 200) failed++;
        res.resume();
        res.on('end', resolve);
      })
      .on('error', () => {
        failed++;
        resolve();
      });
  });
}

async function worker() {
  while (started < count) {
    started++;
    await one();
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
if (failed > 0) {
  console.error(`${failed} of ${count} downloads failed`);
  process.exit(1);
}
