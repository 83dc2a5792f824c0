import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HttpStatus, Logger } from '@nestjs/common';
import { RetryLaterException } from '../../common/http-exceptions.js';
import { StallSweeper, Transfer } from '../../common/stall-sweeper.js';
import type { AppConfig } from '../../config/app-config.js';

/** What a download counts against: the user of the authenticated route, or the signed link used. */
export type DownloadHolder = 'user' | 'link';

const logger = new Logger('Downloads');

/**
 * Every download holds a file descriptor and up to a few MiB of buffers for as long as its client
 * takes. Here each one is counted against its holder, from when its body starts until its response
 * closes, with at most DOWNLOADS_PER_USER or DOWNLOADS_PER_LINK at once per holder (429 past that);
 * and one whose client reads nothing for DOWNLOAD_IDLE_TIMEOUT_SECONDS is ended, which closes its
 * file. However long the download, a client that keeps reading is never ended: what counts is
 * that the kernel takes more bytes within the timeout. (It makes room once the client has read a
 * third or so of what the socket buffers hold, up to about 1.4 MB on a fast link: at the default
 * 60 s, a client reading 25 kB/s or more is safe on any link, and much slower ones on slow links,
 * whose buffers stay small.)
 */
export class DownloadSlots {
  private readonly held: Record<DownloadHolder, Map<string, number>> = {
    user: new Map(),
    link: new Map(),
  };
  private readonly limits: Record<DownloadHolder, number>;
  private readonly sweeper: StallSweeper;

  constructor(private readonly config: AppConfig['downloads']) {
    this.limits = { user: config.perUser, link: config.perLink };
    this.sweeper = new StallSweeper(config.idleTimeoutSeconds * 1000);
  }

  /** Downloads sending their body now, of all holders. */
  get inProgress(): number {
    let total = 0;
    for (const counts of Object.values(this.held))
      for (const count of counts.values()) total += count;
    return total;
  }

  /**
   * Counts a download of `fileId` against `key` (a user id, a link's signature) until `response`
   * closes, finished, failed or abandoned, and ends it if its client stops reading. Call it when the
   * body is about to be sent: a 304, a HEAD or an error before it never counts.
   * @throws RetryLaterException (429) when `key` has as many downloads in progress as it may
   */
  begin(
    holder: DownloadHolder,
    key: string,
    fileId: string,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const connection = request.socket;
    // The client has left: no body will go out, and no 'close' would come to uncount it.
    if (response.closed || connection.destroyed) return;
    const counts = this.held[holder];
    const count = counts.get(key) ?? 0;
    if (count >= this.limits[holder]) {
      // A stalled download frees its slot within the idle timeout: the only bound known here.
      throw new RetryLaterException(
        HttpStatus.TOO_MANY_REQUESTS,
        holder === 'user'
          ? `at most ${this.limits.user} downloads at once per user: wait for one to end`
          : `at most ${this.limits.link} downloads at once per link: wait for one to end`,
        this.config.idleTimeoutSeconds,
      );
    }
    counts.set(key, count + 1);
    const download = new ActiveDownload(this.sweeper, counts, key, fileId, response, connection);
    response.on('close', download.end);
    // A response waiting behind another pipelined on its connection gets no 'close' of its own
    // when the connection goes: the connection's tells.
    connection.on('close', download.end);
    this.sweeper.watch(download);
  }
}

/** One download, from its first byte until its response or connection closes. */
class ActiveDownload extends Transfer {
  private written = -1;
  private queued = -1;
  private ended = false;

  constructor(
    private readonly sweeper: StallSweeper,
    private readonly counts: Map<string, number>,
    private readonly key: string,
    private readonly fileId: string,
    private readonly response: ServerResponse,
    private readonly connection: Socket,
  ) {
    super();
  }

  /** Uncounts the download, once, whichever of its response and connection closes first. */
  readonly end = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.response.off('close', this.end);
    this.connection.off('close', this.end);
    this.sweeper.unwatch(this);
    const count = this.counts.get(this.key)! - 1;
    if (count === 0) this.counts.delete(this.key);
    else this.counts.set(this.key, count);
  };

  /**
   * The socket's bytes dispatched, and those of its current write the kernel has not taken yet:
   * either moves as the client reads. (Node's 'drain' and its own socket timeout only see a write
   * once the kernel took all of it, a whole 1 MiB chunk here, which would end a client reading
   * 10 kB/s; and a socket timeout also counts bytes the client sends as activity.)
   */
  progressed(): boolean {
    // No socket yet: the response waits behind another pipelined on its connection.
    const socket = this.response.socket;
    if (!socket) return false;
    const written = socket.bytesWritten;
    const queued = unsentBytes(socket);
    if (written === this.written && queued === this.queued) return false;
    this.written = written;
    this.queued = queued;
    return true;
  }

  /** Bytes wait on the client only while the socket holds some: else they wait on the disk. */
  waitsOnPeer(): boolean {
    const socket = this.response.socket;
    return socket !== null && (socket.writableLength > 0 || unsentBytes(socket) > 0);
  }

  expire(): void {
    logger.warn(`download of file ${this.fileId} ended: its client stopped reading`);
    // Closes the response; Nest then destroys the file's stream, which closes the file.
    this.response.destroy();
  }
}

/**
 * libuv's count of the bytes of a socket's writes not yet handed to the kernel, which shrinks with
 * every partial write. The handle exposes it as `writeQueueSize` (Node's own TLS and HTTP/2 code
 * read it); 0 once the socket is closed.
 */
function unsentBytes(socket: Socket): number {
  const handle = (socket as Socket & { _handle?: { writeQueueSize?: number } | null })._handle;
  return handle?.writeQueueSize ?? 0;
}
