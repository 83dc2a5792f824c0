import { parse } from 'content-disposition';
import { contentDisposition } from './content-disposition.js';

describe('contentDisposition', () => {
  it('quotes a plain ASCII name and adds nothing else', () => {
    expect(contentDisposition('attachment', 'report.pdf')).toBe(
      'attachment; filename="report.pdf"',
    );
  });

  it('gives an ASCII stand-in and the exact name in filename* for anything else', () => {
    const header = contentDisposition('inline', 'résumé "final" 50%.pdf');
    expect(header).toBe(
      `inline; filename="resume _final_ 50_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%2050%25.pdf`,
    );
    expect(parse(header).parameters.filename).toBe('résumé "final" 50%.pdf');
  });

  it('keeps every character of the stand-in printable ASCII', () => {
    const header = contentDisposition('attachment', '日本語\\x.txt');
    expect(header).toMatch(/^attachment; filename="[\x20-\x7e]+"; filename\*=UTF-8''[\x21-\x7e]+$/);
    expect(parse(header).parameters.filename).toBe('日本語\\x.txt');
  });
});
