import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest } from 'node:http';

export interface FilePart {
  field?: string;
  /** Sent as a browser does: UTF-8, with ", CR and LF escaped as %22, %0D, %0A (WHATWG). */
  filename: string;
  contentType?: string;
}

/**
 * A multipart/form-data body built byte for byte, so a test controls exactly what the server
 * reads: `head` + the file's bytes + `tail`. Big or aborted uploads stream the middle themselves.
 */
export function multipartEnvelope({
  field = 'file',
  filename,
  contentType = 'application/octet-stream',
}: FilePart) {
  const boundary = `----test${randomBytes(8).toString('hex')}`;
  const escaped = filename.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${escaped}"\r\n` +
      `Content-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { head, tail, contentType: `multipart/form-data; boundary=${boundary}` };
}

export function multipartBody(part: FilePart, data: Buffer) {
  const { head, tail, contentType } = multipartEnvelope(part);
  return { body: Buffer.concat([head, data, tail]), contentType };
}

/**
 * POST /files at `baseUrl`: a multipart body announcing a file of `size` bytes, of which only
 * the first `sent` go out. The caller sends more, or leaves it stalled, or destroys it (its
 * errors, the abort's, are ignored).
 */
export function unfinishedUpload(
  baseUrl: string,
  token: string,
  size: number,
  sent: number,
): ClientRequest {
  const { head, contentType } = multipartEnvelope({ filename: 'unfinished.bin' });
  const req = httpRequest(`${baseUrl}/files`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': contentType,
      'content-length': String(head.length + size),
    },
  });
  req.on('error', () => undefined);
  req.write(head);
  req.write(randomBytes(sent));
  return req;
}
