import type { ByteRange } from '../storage/file-store.js';

/** What a Range header asks of a representation of `size` bytes (RFC 9110, section 14). */
export type RangeRequest =
  { kind: 'whole' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

const SINGLE_RANGE = /^bytes=(?:(\d+)-(\d*)|-(\d+))$/;
const RANGE_SET = /^bytes=\s*(?:\d+-\d*|-\d+)(?:\s*,\s*(?:\d+-\d*|-\d+))+\s*$/;

/**
 * One byte range is served as asked; anything the server may ignore is served whole: no header,
 * another unit, a malformed header (`bytes=5-2`, garbage) and a set of several ranges.
 */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const value = header.trim();
  if (RANGE_SET.test(value)) return { kind: 'whole' };
  const match = SINGLE_RANGE.exec(value);
  if (!match) return { kind: 'whole' };
  const [, first, last, suffix] = match;

  if (suffix !== undefined) {
    const length = Number(suffix);
    // A suffix longer than the file means all of it.
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'whole' }; // invalid syntax: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', range: { start, end } };
}
