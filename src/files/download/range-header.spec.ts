import { parseRangeHeader } from './range-header.js';

describe('parseRangeHeader (RFC 9110 §14)', () => {
  it.each([
    [undefined, 9, { kind: 'whole' }],
    ['bytes=0-4', 9, { kind: 'partial', range: { start: 0, end: 4 } }],
    ['bytes=-3', 9, { kind: 'partial', range: { start: 6, end: 8 } }],
    ['bytes=2-50', 9, { kind: 'partial', range: { start: 2, end: 8 } }],
    ['bytes=4-', 9, { kind: 'partial', range: { start: 4, end: 8 } }],
    ['bytes=-100', 9, { kind: 'partial', range: { start: 0, end: 8 } }],
    ['bytes=8-8', 9, { kind: 'partial', range: { start: 8, end: 8 } }],
    ['bytes=9-50', 9, { kind: 'unsatisfiable' }],
    ['bytes=9-', 9, { kind: 'unsatisfiable' }],
    ['bytes=-0', 9, { kind: 'unsatisfiable' }],
    ['bytes=0-0', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-2', 9, { kind: 'whole' }],
    ['items=0-4', 9, { kind: 'whole' }],
    ['asdf', 9, { kind: 'whole' }],
    ['bytes=', 9, { kind: 'whole' }],
    ['bytes=a-b', 9, { kind: 'whole' }],
    ['bytes=0-1,3-4', 9, { kind: 'whole' }],
    ['bytes=0-1, -2', 9, { kind: 'whole' }],
  ])('%s of %d bytes → %j', (header, size, expected) => {
    expect(parseRangeHeader(header, size)).toEqual(expected);
  });
});
