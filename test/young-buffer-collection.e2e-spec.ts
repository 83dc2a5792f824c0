import { runNode } from './support/server-process.js';

/**
 * Request chunks are freed by scavenges, not full collections: on Node 24 the service sets V8 up
 * for it at start-up (`collectYoungBuffersSooner`); without that, each 64 MiB of an upload cost a
 * mark-compact of the whole heap (docs/benchmarks.md, "Uploads"). Runs the built code (dist/) on
 * the runtime running the tests.
 */
describe('Buffers of request bodies, once received', () => {
  it('are collected by scavenges, as they come, with few full collections', async () => {
    const mebibytes = 512;
    const { code, stdout, stderr } = await runNode(
      'test/support/receive-buffers.mjs',
      [String(mebibytes)],
      {},
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const { major, minor } = JSON.parse(stdout) as { major: number; minor: number };
    // At least one scavenge per 64 MiB: V8's limit on external memory, which starts a full
    // collection, is 64 MiB over what the last one left.
    expect(minor).toBeGreaterThanOrEqual(mebibytes / 64);
    expect(major).toBeLessThan(minor);
  });
});
