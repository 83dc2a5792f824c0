import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AppConfig } from '../config/app-config.js';
import { StallSweeper, Transfer } from './stall-sweeper.js';

/**
 * Node's default, stated: it was derived from requestTimeout (the lesser of the two), and a slow
 * client must still not hold a connection open by never finishing its headers.
 */
const HEADERS_TIMEOUT_MS = 60_000;

/**
 * How long the HTTP server waits on clients. Node's requestTimeout (300 s by default) bounds a whole
 * request, body included, and answers it with a plain-text 408: it cuts every 1 GiB upload slower
 * than 3.4 MB/s. It is off. Instead, a request body that delivers no byte for
 * UPLOAD_IDLE_TIMEOUT_SECONDS while it is being read is answered 408 in the service's JSON error
 * shape, and its connection closed: whoever read the body (multer, the JSON parser) fails, and an
 * upload's temp file goes with its request. headersTimeout only runs until the headers are
 * complete, before any route sees the request, so Node's plain-text 408 reaches no upload.
 */
export function applyHttpServerTimeouts(server: Server, config: AppConfig): void {
  server.requestTimeout = 0;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  const idleTimeoutSeconds = config.uploads.idleTimeoutSeconds;
  const sweeper = new StallSweeper(idleTimeoutSeconds * 1000);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (!hasBody(request)) return;
    const body = new ArrivingBody(request, response, idleTimeoutSeconds);
    sweeper.watch(body);
    // Read to its end or abandoned: either way the request is destroyed.
    request.once('close', () => sweeper.unwatch(body));
  });
  server.once('close', () => sweeper.stop());
}

function hasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (
    request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
  );
}

/**
 * A request body on its way in. Progress is the connection's bytes read; it waits on the client
 * only while someone reads it (flowing) and it is not complete. Paused, the reader is the slow one
 * (the disk, behind multer): that time is not the client's.
 */
class ArrivingBody extends Transfer {
  private received = -1;

  constructor(
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly idleTimeoutSeconds: number,
  ) {
    super();
  }

  progressed(): boolean {
    const received = this.request.socket.bytesRead;
    if (received === this.received) return false;
    this.received = received;
    return true;
  }

  waitsOnPeer(): boolean {
    return this.request.readableFlowing === true && !this.request.complete;
  }

  /**
   * Answered here rather than by an error on the request: destroying the request destroys its
   * socket, and no answer could follow; and multer waits for the body to end before it reports any
   * error. Once this answer is out, Node closes the connection ('Connection: close'), which fails
   * the reader, and the request's cleanup removes its temp files.
   */
  expire(): void {
    if (this.response.headersSent) {
      // An answer is out already: only the connection is left to end.
      this.request.socket.destroy();
      return;
    }
    const body = JSON.stringify({
      statusCode: 408,
      error: STATUS_CODES[408],
      message: `no byte of the request body arrived for ${this.idleTimeoutSeconds} seconds`,
    });
    this.response
      .writeHead(408, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        Connection: 'close',
      })
      .end(body);
  }
}
