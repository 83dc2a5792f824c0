import { setFlagsFromString } from 'node:v8';

/**
 * The young generation's capacity, in V8's units (MB; twice that without pointer compression, as
 * Node builds V8), from which V8 derives when the Buffers of the young generation are worth a
 * scavenge: once they hold twice the default semi-space. V8 11 (Node 20) had 8, so a scavenge
 * came every 32 MiB of request chunks; V8 13 (Node 24) has 32, so it waits for 128 MiB.
 */
const SCAVENGER_MAX_NEW_SPACE_CAPACITY_MB = 8;

/** V8's major version from which the default above is 32 (and the flag exists). */
const FIRST_V8_WAITING_LONGER = 13;

/**
 * Has V8 free the Buffers of request bodies by scavenges again, as on Node 20.
 *
 * Every chunk of a request body is a new Buffer of up to 64 KiB outside the heap (Node's HTTP
 * parser copies it out of the socket's read buffer), garbage once written. On V8 13 those Buffers
 * reach V8's 64 MiB limit on external memory before the young generation is scavenged, and each
 * time that starts a full mark-compact of the whole heap: 26-33 of them per GiB uploaded, each
 * marking the service's ~40 MB, which doubled the CPU time of an upload (docs/benchmarks.md,
 * "Uploads"). A scavenge frees the same Buffers for the cost of the few live young objects.
 *
 * A process-wide setting: call it once, at start-up. Older V8s are left alone: V8 11 scavenges
 * at 32 MiB already, and an unknown flag would only be reported on stdout.
 */
export function collectYoungBuffersSooner(v8Version: string = process.versions.v8): boolean {
  if (Number(v8Version.split('.')[0]) < FIRST_V8_WAITING_LONGER) return false;
  setFlagsFromString(
    `--scavenger-max-new-space-capacity-mb=${SCAVENGER_MAX_NEW_SPACE_CAPACITY_MB}`,
  );
  return true;
}
