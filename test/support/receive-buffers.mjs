// Receives MIB mebibytes (argv[2]) as a request body arrives: 64 KiB Buffers, each new, a few held
// at a time (a write stream's queue), the event loop turning between them. Starts up as the
// service does (dist/, built), warms up, then prints the garbage collections of the receipt as
// {"major": n, "minor": n}.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import { collectYoungBuffersSooner } from '../../dist/common/young-buffer-collection.js';

const CHUNK_BYTES = 64 * 1024;
const HELD_CHUNKS = 16;

collectYoungBuffersSooner();

async function receive(mebibytes) {
  const held = [];
  for (let i = 0; i < (mebibytes * 1024 * 1024) / CHUNK_BYTES; i++) {
    const chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    chunk[0] = i;
    held.push(chunk);
    if (held.length > HELD_CHUNKS) held.shift();
    if (i % HELD_CHUNKS === 0) await turn();
  }
}

// Start-up's own collections are not counted.
await receive(64);
const counts = { major: 0, minor: 0 };
new PerformanceObserver((list) => {
  for (const { detail } of list.getEntries()) {
    if (detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
    if (detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
  }
}).observe({ entryTypes: ['gc'] });
await receive(Number(process.argv[2]));
await turn(); // the observer's last entries
await turn();
console.log(JSON.stringify(counts));
