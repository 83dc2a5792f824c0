import { setFlagsFromString } from 'node:v8';

/**
 * The young generation's default capacity, in V8's units (MB; twice that without pointer
 * compression, as Node builds V8), from which V8 derives when the Buffers of the young generation
 * are worth a scavenge: once they hold twice that capacity. V8 11 (Node 20) had 8, a scavenge
 * every 32 MiB of request chunks; V8 13 (Node 24) has 32, every 128 MiB. At 2, every 8 MiB: well
 * before a full collection can start for the same Buffers (which on Node 24 came every 18-64 MiB,
 * and at 8, the same 32 MiB as Node 20's, still won half the time in the bench's run).
 */
const SCAVENGER_MAX_NEW_SPACE_CAPACITY_MB = 2;

/** V8's major version from which that default is 32 (and the flag exists). */
const FIRST_V8_WAITING_LONGER = 13;

/**
 * Has V8 free the Buffers of request bodies by scavenges, not full collections.
 *
 * Every chunk of a request body is a new Buffer of up to 64 KiB outside the heap (Node's HTTP
 * parser copies it out of the socket's read buffer), garbage once written. On V8 13 those Buffers
 * reach the limit on external memory that starts a full mark-compact before the young generation
 * is scavenged: 26-33 mark-compacts per GiB uploaded, each marking the service's ~40 MB heap, twice
 * the CPU time of an upload on Node 20 (docs/benchmarks.md, "Uploads"). A scavenge frees the same
 * Buffers for the cost of the few live young objects (under a millisecond).
 *
 * A process-wide setting: call it once, at start-up. Older V8s are left alone: V8 11 scavenges at
 * 32 MiB already, and an unknown flag would only be reported on stdout.
 */
export function collectYoungBuffersSooner(v8Version: string = process.versions.v8): boolean {
  if (Number(v8Version.split('.')[0]) < FIRST_V8_WAITING_LONGER) return false;
  setFlagsFromString(
    `--scavenger-max-new-space-capacity-mb=${SCAVENGER_MAX_NEW_SPACE_CAPACITY_MB}`,
  );
  return true;
}
