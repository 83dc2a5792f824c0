// The service's own blur pipeline (dist/images/image-processor.js), called in-process with no
// HTTP: the ceiling the /images/blur route is compared with.
//   node bench/blur-in-process.mjs IMAGE [SECONDS=20] [CONCURRENCY=4]
// Prints one line: rps=… p50_ms=… p99_ms=… images=… peak_rss_mib=…
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';

const [image, seconds = '20', concurrency = '4'] = process.argv.slice(2);
const root = resolve(import.meta.dirname, '..');
const { ImageProcessor } = await import(`${root}/dist/images/image-processor.js`);
const { ConcurrencyGate } = await import(`${root}/dist/images/concurrency-gate.js`);

const cores = availableParallelism();
const processor = new ImageProcessor({ images: { maxPixels: 50_000_000, timeoutSeconds: 30 } });
// The service admits one image per core at a time; so does this loop.
const gate = new ConcurrencyGate(cores, Number(concurrency), 60_000);
const input = readFileSync(image);
const latencies = [];
const deadline = Date.now() + Number(seconds) * 1000;

async function worker() {
  while (Date.now() < deadline) {
    const started = performance.now();
    const release = await gate.acquire();
    try {
      await processor.blur(input, { sigma: 5 });
    } finally {
      release();
    }
    latencies.push(performance.now() - started);
  }
}

await processor.blur(input, { sigma: 5 }); // warm-up
const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
const peak = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1] / 1024;
console.log(
  `rps=${(latencies.length / elapsed).toFixed(1)} p50_ms=${at(0.5)} p99_ms=${at(0.99)} images=${latencies.length} peak_rss_mib=${peak.toFixed(0)}`,
);
