import type { Writable } from 'node:stream';
import type { StoredBytes } from '../storage/file-store.js';

/**
 * Sends a download's `body` on its response `res`, in one write when the bytes are in memory, else
 * piped as `stream.pipeline` would for these two: resolves once the response has sent its last
 * byte; rejects when either side fails or the response closes first, and then destroys a streamed
 * body (which frees its file or its connection to the store). The response is left to the caller,
 * who knows whether an error may still answer.
 *
 * Not `pipeline` itself: on Node 24 every pipeline that completes aborts an AbortController of its
 * own, which builds a DOMException with its stack: about 12 µs, a tenth of a 4 KiB download's CPU
 * (docs/benchmarks.md).
 */
export function relayBody(body: StoredBytes, res: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      if (!Buffer.isBuffer(body)) {
        body.unpipe(res);
        body.destroy();
      }
      reject(error);
    };
    res.once('error', fail);
    res.once('close', () => {
      if (res.writableFinished) {
        settled = true;
        resolve();
      } else {
        fail(prematureClose());
      }
    });
    if (Buffer.isBuffer(body)) {
      res.end(body);
    } else {
      body.once('error', fail);
      body.pipe(res);
    }
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
