import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Duplex } from 'node:stream';

/** Whether a request announces a body: a non-zero Content-Length, or a chunked one. */
export function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return length === undefined ? request.headers['transfer-encoding'] !== undefined : length !== '0';
}

/**
 * The body of `request` piped through `through`, which a reader of the body reads instead:
 * - the request flows whenever `through` has room, so a client that stops sending is seen by the
 *   idle timeout (`http-server-timeouts.ts`), which waits on clients only while their body flows;
 * - `pipe` does not pass on the end of a request cut short (the client went away), nor does the
 *   request end at all once `response` is over (an answer given before the body's end, such as
 *   the idle timeout's 408: Node then forgets the request): either fails `through`, so its
 *   reader learns the body is incomplete;
 * - a reader that stops early, or a failing `through`, leaves the request unread, not destroyed:
 *   destroying it would destroy the connection, and with it the answer (see `closeIfUnread`).
 */
export function bodyThrough<T extends Duplex>(
  request: IncomingMessage,
  response: ServerResponse,
  through: T = new PassThrough() as unknown as T,
): T {
  const cutShort = (error?: Error) => {
    if (!request.complete) {
      through.destroy(error ?? new Error('the request ended before its body did'));
    }
  };
  request.once('error', cutShort);
  request.once('close', () => cutShort());
  response.once('close', () => cutShort());
  // A reader learns of a failure by reading; there may be none (the request refused before its
  // body was read), and an error nobody listens to would end the process.
  through.on('error', () => undefined);
  return request.pipe(through);
}

/**
 * For an answer given before the request's body was read to its end: the connection closes once
 * the answer is out. To keep it, Node would first read all the rest for nothing, gigabytes
 * perhaps.
 */
export function closeIfUnread(request: IncomingMessage, response: ServerResponse): void {
  if (!request.complete && !response.headersSent) response.setHeader('Connection', 'close');
}
