import { FilePartHeaderRewriter } from './file-part-header.js';

const BOUNDARY = '----b0und';

/** A multipart body of `parts`, each its header lines and its content. */
function body(parts: [string[], string][], preamble = ''): Buffer {
  const text =
    preamble +
    parts
      .map(([headers, content]) => `--${BOUNDARY}\r\n${headers.join('\r\n')}\r\n\r\n${content}\r\n`)
      .join('') +
    `--${BOUNDARY}--\r\n`;
  return Buffer.from(text, 'latin1');
}

/** What the rewriter passes on for `input` fed in chunks of `size` bytes. */
function rewrite(input: Buffer, size: number): Buffer {
  const rewriter = new FilePartHeaderRewriter(BOUNDARY);
  const out: Buffer[] = [];
  for (let at = 0; at < input.length; at += size)
    out.push(rewriter.push(input.subarray(at, at + size)));
  out.push(rewriter.flush());
  return Buffer.concat(out);
}

/** Every chunking of `input` gives `expected`. */
function expectRewritten(input: Buffer, expected: Buffer): void {
  for (let size = 1; size <= input.length; size++) {
    expect([size, rewrite(input, size).toString('latin1')]).toEqual([
      size,
      expected.toString('latin1'),
    ]);
  }
}

const FILE = 'Content-Disposition: form-data; name="file"; filename="a.bin"';

describe('FilePartHeaderRewriter', () => {
  it('passes a file part with a name and a valid bare type unchanged', () => {
    const input = body([[[FILE, 'Content-Type: text/csv'], 'a,b\r\n--b0u']]);
    expectRewritten(input, input);
  });

  it.each([
    ['not a type', 'application/octet-stream'],
    ['image/', 'application/octet-stream'],
    ['', 'application/octet-stream'],
    ['Text/CSV; Charset=UTF-8', 'text/csv'],
  ])('writes the declared type %j as %j', (declared, written) => {
    expectRewritten(
      body([[[FILE, `Content-Type: ${declared}`], 'x']]),
      body([[[FILE, `Content-Type: ${written}`], 'x']]),
    );
  });

  it('adds no type to a part that declares none', () => {
    const input = body([[[FILE], 'x']]);
    expectRewritten(input, input);
  });

  it.each([
    'form-data; name="file"; filename=""',
    'form-data; name="file"; filename="../"',
    'form-data; name="file"; filename=".."',
    'form-data; name="file"; filename="%0A"',
    // U+202E (right-to-left override) in UTF-8, as a browser sends it
    `form-data; name="file"; filename="${Buffer.from('\u202e').toString('latin1')}"`,
    'form-data; name="file"',
    "form-data; name=file; filename*=UTF-8''%2F",
  ])('names the part `file` for %j', (disposition) => {
    expectRewritten(
      body([[[`Content-Disposition: ${disposition}`, 'Content-Type: text/plain'], 'x']]),
      body([
        [
          [
            'Content-Disposition: form-data; name="file"; filename="file"',
            'Content-Type: text/plain',
          ],
          'x',
        ],
      ]),
    );
  });

  it.each([
    'form-data; name="file"; filename*=UTF-8\'\'%C3%A9.txt',
    'form-data; name="file"; filename="r\\"s.txt"',
    'form-data; name="file"; filename="..."',
  ])('keeps the usable filename of %j', (disposition) => {
    const input = body([[[`Content-Disposition: ${disposition}`], 'x']]);
    expectRewritten(input, input);
  });

  it('rewrites only the first part named `file`, past a preamble, fields and other files', () => {
    const before: [string[], string][] = [
      [
        ['Content-Disposition: form-data; name="note"'],
        `look-alike: \r\n--${BOUNDARY.slice(0, 5)}`,
      ],
      [['Content-Disposition: form-data; name="other"; filename=""', 'Content-Type: bad'], 'y'],
    ];
    const after: [string[], string][] = [
      [['Content-Disposition: form-data; name="file"; filename=""', 'Content-Type: bad'], 'z'],
    ];
    expectRewritten(
      body(
        [
          ...before,
          [['Content-Disposition: form-data; name="file"; filename=""', 'Content-Type: bad'], 'x'],
          ...after,
        ],
        'preamble\r\n',
      ),
      body(
        [
          ...before,
          [
            [
              'Content-Disposition: form-data; name="file"; filename="file"',
              'Content-Type: application/octet-stream',
            ],
            'x',
          ],
          ...after,
        ],
        'preamble\r\n',
      ),
    );
  });

  it('unfolds folded header lines, keeps other headers and drops later Content-Types', () => {
    expectRewritten(
      body([
        [
          [
            'Content-Disposition: form-data;\r\n name="file"',
            'X-Other: 1',
            'Content-Type: nope',
            'Content-Type: text/plain',
          ],
          'x',
        ],
      ]),
      body([
        [
          [
            'Content-Disposition: form-data; name="file"; filename="file"',
            'X-Other: 1',
            'Content-Type: application/octet-stream',
          ],
          'x',
        ],
      ]),
    );
  });

  it('leaves a body without a part named `file`, or with a malformed header, alone', () => {
    for (const input of [
      body([[['Content-Disposition: form-data; name="note"'], 'x']]),
      body([[['Content-Disposition: attachment; name="file"'], 'x']]),
      body([[['Content-Disposition: form-data; name="file"; filename="a'], 'x']]),
      body([[['not a header', 'Content-Disposition: form-data; name="file"'], 'x']]),
      Buffer.from(`--${BOUNDARY}\r\n\r\nx\r\n--${BOUNDARY}--\r\n`),
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"`), // cut short
    ]) {
      expectRewritten(input, input);
    }
  });

  it('passes every byte after the rewritten header as it comes, without holding any back', () => {
    const rewriter = new FilePartHeaderRewriter(BOUNDARY);
    rewriter.push(
      body([[[FILE, 'Content-Type: text/plain'], '']]).subarray(
        0,
        -`\r\n--${BOUNDARY}--\r\n`.length,
      ),
    );
    expect(rewriter.done).toBe(true);
    const chunk = Buffer.from(`\r\n--${BOUNDARY.slice(0, 3)}`);
    expect(rewriter.push(chunk)).toBe(chunk);
  });
});
