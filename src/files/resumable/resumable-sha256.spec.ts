import { createHash, randomBytes } from 'node:crypto';
import { ResumableSha256 } from './resumable-sha256.js';

describe('ResumableSha256', () => {
  it("gives crypto's SHA-256 of the bytes, however they are split and saved between", () => {
    const bytes = randomBytes(1_000_003);
    let hash = ResumableSha256.fresh();
    // Cuts inside and on 64-byte blocks, a state saved and loaded at each.
    for (const [from, to] of [
      [0, 1],
      [1, 64],
      [64, 200_000],
      [200_000, 200_037],
      [200_037, bytes.length],
    ]) {
      hash.update(bytes.subarray(from, to));
      hash = ResumableSha256.load(hash.save());
    }
    expect(hash.hex()).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('leaves a saved state as it was when it goes on from a copy, and digests twice alike', () => {
    const hash = ResumableSha256.fresh();
    hash.update(Buffer.from('hello '));
    const saved = hash.save();
    const world = ResumableSha256.load(saved);
    world.update(Buffer.from('world'));
    expect(world.hex()).toBe(createHash('sha256').update('hello world').digest('hex'));
    expect(world.hex()).toBe(world.hex());
    expect(ResumableSha256.load(saved).hex()).toBe(
      createHash('sha256').update('hello ').digest('hex'),
    );
  });

  it('refuses a buffer that is no saved state, or a corrupted one', () => {
    expect(() => ResumableSha256.load(Buffer.alloc(3))).toThrow('not a saved SHA-256 state');
    // The count of bytes waiting for a whole block, past a block: OpenSSL would write past it.
    const corrupted = ResumableSha256.fresh().save().fill(0xff);
    const hash = ResumableSha256.load(corrupted);
    expect(() => hash.update(Buffer.from('x'))).toThrow('not a valid state');
  });
});
