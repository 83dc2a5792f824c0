import type { IncomingMessage } from 'node:http';

/** Whether a request announces a body: a non-zero Content-Length, or a chunked one. */
export function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return length === undefined ? request.headers['transfer-encoding'] !== undefined : length !== '0';
}
