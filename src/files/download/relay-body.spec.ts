import { Readable, Writable } from 'node:stream';
import { relayBody } from './relay-body.js';

/** A response stand-in that keeps what it is given, slowly enough to push back. */
function collector(): Writable & { received: Buffer[] } {
  const received: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _encoding, done) {
      received.push(chunk);
      setImmediate(done);
    },
  });
  return Object.assign(sink, { received });
}

describe('relayBody', () => {
  it('sends every byte, ends the response and resolves', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
    const res = collector();
    await relayBody(Readable.from(chunks), res);
    expect(Buffer.concat(res.received)).toEqual(Buffer.concat(chunks));
    expect(res.writableFinished).toBe(true);
  });

  it('sends bytes in memory in one write, ends the response and resolves', async () => {
    const bytes = Buffer.alloc(4096, 7);
    const res = collector();
    await relayBody(bytes, res);
    expect(res.received).toEqual([bytes]);
    expect(res.writableFinished).toBe(true);
  });

  it('rejects when the response closes before bytes in memory are out', async () => {
    const res = collector();
    const relayed = relayBody(Buffer.alloc(4096), res);
    res.destroy();
    await expect(relayed).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('rejects when the body fails, destroys the body and leaves the response to the caller', async () => {
    const body = new Readable({ read: () => undefined });
    const res = collector();
    const relayed = relayBody(body, res);
    body.push(Buffer.from('partial'));
    await new Promise((resolve) => setImmediate(resolve));
    body.destroy(new Error('disk read failed'));
    await expect(relayed).rejects.toThrow('disk read failed');
    expect(body.destroyed).toBe(true);
    expect(res.destroyed).toBe(false);
    expect(res.writableEnded).toBe(false);
  });

  it('rejects and destroys the body when the response closes before its end', async () => {
    const body = new Readable({ read: () => undefined });
    const res = collector();
    const relayed = relayBody(body, res);
    body.push(Buffer.from('first'));
    await new Promise((resolve) => setImmediate(resolve));
    res.destroy();
    await expect(relayed).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(body.destroyed).toBe(true);
  });

  it('rejects when the response fails', async () => {
    const body = new Readable({ read: () => undefined });
    const res = collector();
    const relayed = relayBody(body, res);
    res.destroy(new Error('connection reset'));
    await expect(relayed).rejects.toThrow('connection reset');
    expect(body.destroyed).toBe(true);
  });
});
