import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HEAD_BYTES, writeDigesting } from './digesting-writer.js';

describe('writeDigesting', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'digesting-writer-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes every byte and reports size, SHA-256 and head, past several background flushes', async () => {
    // 80 MiB in 1 MiB chunks of distinct bytes: more than two flush intervals of 32 MiB.
    const chunks = Array.from({ length: 80 }, (_, i) => Buffer.alloc(1024 * 1024, i));
    const path = join(dir, 'out');
    const written = await writeDigesting(Readable.from(chunks), path);
    const bytes = await readFile(path);
    expect(bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(written).toEqual({
      path,
      size: 80 * 1024 * 1024,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      head: bytes.subarray(0, HEAD_BYTES),
    });
  });

  it('refuses to overwrite a file and releases the source', async () => {
    const path = join(dir, 'taken');
    await writeDigesting(Readable.from([Buffer.from('first')]), path);
    const source = Readable.from([Buffer.from('second')]);
    await expect(writeDigesting(source, path)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(source.destroyed).toBe(true);
    expect(await readFile(path, 'utf8')).toBe('first');
  });
});
