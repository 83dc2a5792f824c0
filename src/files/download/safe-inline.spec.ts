import { isSafeInline } from './safe-inline.js';

describe('isSafeInline', () => {
  it.each([
    'image/png',
    'image/jpeg',
    'image/webp',
    'application/pdf',
    'text/plain',
    'text/plain; charset=utf-8',
    'audio/mpeg',
    'video/mp4',
  ])('%s may be shown inline', (type) => expect(isSafeInline(type)).toBe(true));
  it.each([
    'text/html',
    'image/svg+xml',
    'application/xhtml+xml',
    'application/javascript',
    'text/xml',
    'application/octet-stream',
  ])('%s may not', (type) => expect(isSafeInline(type)).toBe(false));
});
