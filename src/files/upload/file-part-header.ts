import { isTypeValid, parse as parseContentType } from 'content-type';
import { OCTET_STREAM } from './content-type.js';
import { sanitizeFilename } from './filename.js';

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
/** busboy's own limit: a longer header block fails the request there anyway. */
const MAX_HEADER_BYTES = 16 * 1024;
/** The part that holds the upload. */
const FILE_PART = 'file';

/**
 * Rewrites, in a multipart/form-data body streaming by, the header block of the first part named
 * `file`, so that busboy (which multer parses with) reads from it what API.md means:
 * - a Content-Type that is not a valid media type becomes application/octet-stream. busboy would
 *   report text/plain, the default for a part without one, and the bytes would later be served
 *   as text;
 * - a filename that leaves nothing once sanitised (`""`, `../`), or none at all, becomes `file`.
 *   busboy takes `filename=""` for no filename, and multer drops a file part without a name, so
 *   the upload would be refused as missing.
 * A valid Content-Type is written back as its bare media type, which busboy reads the same way
 * (it drops parameters). Every other byte passes unchanged and in order; only an incomplete
 * header block or delimiter is held back, until the next bytes or `flush()`.
 */
export class FilePartHeaderRewriter {
  private readonly delimiter: Buffer;
  private state: 'delimiter' | 'after-delimiter' | 'header' | 'done' = 'delimiter';
  /**
   * Bytes seen but not yet passed on. It starts with the CRLF busboy also puts before the body,
   * so that a delimiter at its very start is found like any other; busboy has that CRLF already,
   * so it is never passed on (`unsent`).
   */
  private held: Buffer = CRLF;
  private unsent = CRLF.length;

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  /** The part's header block has passed (or there is none): every later byte passes as is. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** The bytes to pass on for `chunk`: fewer while a header block or delimiter is incomplete. */
  push(chunk: Buffer): Buffer {
    if (this.done) return chunk;
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = EMPTY;
    const out: Buffer[] = [];
    let pos = 0;
    const hold = (from: number) => {
      this.held = Buffer.from(data.subarray(from)); // a copy: `chunk` is not ours to keep
      return this.emit(out);
    };
    for (;;) {
      switch (this.state) {
        case 'delimiter': {
          const at = data.indexOf(this.delimiter, pos);
          if (at === -1) {
            // Keep what may be the start of a delimiter that the next chunk completes.
            const safe = Math.max(pos, data.length - this.delimiter.length + 1);
            out.push(data.subarray(pos, safe));
            return hold(safe);
          }
          out.push(data.subarray(pos, at + this.delimiter.length));
          pos = at + this.delimiter.length;
          this.state = 'after-delimiter';
          break;
        }
        case 'after-delimiter': {
          if (data.length - pos < 2) return hold(pos);
          const next = data.toString('latin1', pos, pos + 2);
          if (next === '--') {
            // The closing delimiter: no part named `file` in this body.
            this.state = 'done';
            out.push(data.subarray(pos));
            return this.emit(out);
          }
          // Anything but CRLF after a delimiter is not a part's start, as busboy sees it.
          this.state = next === '\r\n' ? 'header' : 'delimiter';
          break;
        }
        case 'header': {
          const end = data.indexOf(HEADER_END, pos);
          if (end === -1) {
            if (data.length - pos <= MAX_HEADER_BYTES) return hold(pos);
            this.state = 'done'; // busboy refuses a header block this long
            out.push(data.subarray(pos));
            return this.emit(out);
          }
          // The block starts with the CRLF that ends the delimiter's line.
          const block = data.toString('latin1', pos + 2, end);
          const rewritten = rewriteIfFilePart(block);
          if (rewritten === undefined) {
            out.push(data.subarray(pos, end + HEADER_END.length));
            pos = end + HEADER_END.length;
            this.state = 'delimiter';
            break;
          }
          this.state = 'done';
          out.push(CRLF, Buffer.from(rewritten, 'latin1'), data.subarray(end));
          return this.emit(out);
        }
      }
    }
  }

  /** What is still held back, at the end of the body (which is then incomplete). */
  flush(): Buffer {
    this.state = 'done';
    const held = this.held;
    this.held = EMPTY;
    return this.emit([held]);
  }

  /** `out` joined, less what busboy must not be sent (the leading CRLF). */
  private emit(out: Buffer[]): Buffer {
    let joined = out.length === 1 ? out[0] : Buffer.concat(out);
    if (this.unsent > 0) {
      const skipped = Math.min(this.unsent, joined.length);
      joined = joined.subarray(skipped);
      this.unsent -= skipped;
    }
    return joined;
  }
}

interface HeaderField {
  name: string;
  value: string;
}

/**
 * The header block (without its final CRLF CRLF) rewritten as the class comment says, when it is
 * that of a part named `file`; undefined otherwise, or when busboy would refuse it anyway.
 */
function rewriteIfFilePart(block: string): string | undefined {
  const fields = parseHeaderBlock(block);
  if (!fields) return undefined;
  const dispositionField = fields.find((f) => f.name.toLowerCase() === 'content-disposition');
  const disposition = dispositionField && parseDisposition(dispositionField.value);
  if (disposition?.type !== 'form-data' || disposition.params.get('name') !== FILE_PART) {
    return undefined;
  }
  let typeWritten = false;
  const lines: string[] = [];
  for (const field of fields) {
    const name = field.name.toLowerCase();
    if (field === dispositionField && !hasUsableFilename(disposition.params)) {
      lines.push(`${field.name}: form-data; name="${FILE_PART}"; filename="${FILE_PART}"`);
    } else if (name === 'content-type') {
      // busboy reads the first Content-Type only; later ones would be ignored, so are left out.
      if (!typeWritten) lines.push(`${field.name}: ${mediaTypeOf(field.value)}`);
      typeWritten = true;
    } else {
      lines.push(`${field.name}: ${field.value}`);
    }
  }
  return lines.join('\r\n');
}

/** Header fields in order, folded lines unfolded as busboy does; undefined when malformed. */
function parseHeaderBlock(block: string): HeaderField[] | undefined {
  const fields: HeaderField[] = [];
  for (const line of block.split('\r\n')) {
    const last = fields.at(-1);
    if (last && /^[ \t]/.test(line)) {
      last.value += line;
      continue;
    }
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*)$/.exec(line);
    if (!match) return undefined;
    fields.push({ name: match[1], value: match[2] });
  }
  return fields;
}

/** The declared type when it is a valid media type (bare, lower case), else octet-stream. */
function mediaTypeOf(declared: string): string {
  const { type } = parseContentType(declared.trim());
  return isTypeValid(type) ? type : OCTET_STREAM;
}

/**
 * Whether the filename the part gives is one the API keeps: decoded as busboy and multer decode
 * it (UTF-8 by default, RFC 8187 for `filename*`, then the WHATWG escapes of ", CR and LF), it
 * leaves something once sanitised.
 */
function hasUsableFilename(params: Map<string, string>): boolean {
  // busboy prefers a non-empty filename*, and takes an empty value for no filename.
  const name = params.get('filename*') || params.get('filename');
  if (!name) return false;
  const unescaped = name.replace(
    /%0A|%0D|%22/gi,
    (escape) => ({ '%0A': '\n', '%0D': '\r', '%22': '"' })[escape.toUpperCase()]!,
  );
  // A name that is `file` already is rewritten to itself: no harm.
  return sanitizeFilename(unescaped) !== FILE_PART;
}

interface Disposition {
  type: string;
  /** Parameters by lower-case name, the first of each kept (as busboy does), values decoded. */
  params: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;
const QUOTED = /^"((?:[^"\\]|\\.)*)"/;

/** A Content-Disposition value, parsed as busboy parses it; undefined when malformed. */
function parseDisposition(value: string): Disposition | undefined {
  const type = TOKEN.exec(value)?.[0];
  if (!type) return undefined;
  const params = new Map<string, string>();
  let rest = value.slice(type.length);
  for (;;) {
    rest = rest.replace(/^[ \t]+/, '');
    if (rest === '') break;
    const param = /^;[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=/.exec(rest);
    if (!param) return undefined;
    rest = rest.slice(param[0].length);
    const name = param[1].toLowerCase();
    let decoded: string | undefined;
    if (name.endsWith('*')) {
      const extended = /^([^']*)'[^']*'((?:[!#$&+.^_`|~0-9A-Za-z-]|%[0-9A-Fa-f]{2})+)/.exec(rest);
      if (!extended) return undefined;
      rest = rest.slice(extended[0].length);
      decoded = decodeExtended(extended[1], extended[2]);
    } else {
      const quoted = QUOTED.exec(rest);
      const token = quoted ? undefined : TOKEN.exec(rest);
      const raw = quoted ? quoted[1].replace(/\\(.)/g, '$1') : token?.[0];
      if (raw === undefined) return undefined;
      rest = rest.slice((quoted ?? token)![0].length);
      // multer has busboy read these as UTF-8 (`defParamCharset`), as browsers send them.
      decoded = Buffer.from(raw, 'latin1').toString('utf8');
    }
    if (decoded === undefined) return undefined;
    if (!params.has(name)) params.set(name, decoded);
  }
  return { type: type.toLowerCase(), params };
}

/** An RFC 8187 value; undefined for a charset busboy does not read either. */
function decodeExtended(charset: string, encoded: string): string | undefined {
  const bytes = Buffer.from(
    encoded.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) =>
      String.fromCharCode(parseInt(hex, 16)),
    ),
    'latin1',
  );
  switch (charset.toLowerCase()) {
    case 'utf-8':
    case 'utf8':
      return bytes.toString('utf8');
    case 'iso-8859-1':
    case 'latin1':
    case 'us-ascii':
    case 'ascii':
      return bytes.toString('latin1');
    default:
      return undefined;
  }
}
