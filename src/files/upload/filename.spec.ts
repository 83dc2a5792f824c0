import { sanitizeFilename } from './filename.js';

describe('sanitizeFilename', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\evil.exe', 'evil.exe'],
    ['a\r\nb\u0000c\u007f.txt', 'abc.txt'],
    ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['  spaced  ', 'spaced'],
    ['', 'file'],
    [undefined, 'file'],
    ['dir/', 'file'],
    ['..', 'file'],
    ['e\u0301.txt', 'é.txt'],
  ])('%j → %j', (name, expected) => {
    expect(sanitizeFilename(name)).toBe(expected);
  });

  it('cuts to 255 bytes on a character boundary and keeps the extension', () => {
    const name = sanitizeFilename(`${'😀'.repeat(100)}.jpeg`);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toMatch(/^(😀)+\.jpeg$/u);
    expect(Buffer.byteLength(sanitizeFilename('x'.repeat(300)))).toBe(255);
  });
});
