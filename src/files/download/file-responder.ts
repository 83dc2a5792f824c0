import { HttpStatus, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditRecorder } from '../../audit/audit-recorder.js';
import type { AuditActor, AuditEventInput } from '../../audit/audit-event.js';
import { sceneOf } from '../../audit/request-scene.js';
import { HttpExceptionWithHeaders } from '../../common/http-exceptions.js';
import { AppConfig } from '../../config/app-config.js';
import { FilesService } from '../files.service.js';
import type { StoredBytes } from '../storage/file-store.js';
import type { StoredFile } from '../stored-file.js';
import { contentDisposition, type Disposition } from '../../common/content-disposition.js';
import { linkIdOf } from '../links/signed-links.js';
import { DownloadSlots, type DownloadHolder } from './download-slots.js';
import { isSafeInline } from './safe-inline.js';
import { parseRangeHeader } from './range-header.js';
import { relayBody } from './relay-body.js';

/**
 * Turns a stored file into the HTTP response of a download: the one place that knows validators,
 * conditional requests, ranges and dispositions (API.md, "Downloads"), and that counts and bounds
 * the downloads in progress (`DownloadSlots`). Every download route, authenticated or signed link,
 * answers through it. The registry row knows size, validators and dates: a HEAD or a 304 never
 * touches the store.
 *
 * With DOWNLOAD_REDIRECT=presigned, a GET that would send bytes answers 302 to a short-lived URL
 * of the store instead, with the name and type set on it: the bytes then flow from the store, but
 * its response cannot carry `nosniff` or the CSP sandbox, so such files are always attachments.
 */
@Injectable()
export class FileResponder {
  private readonly logger = new Logger(FileResponder.name);
  /** The responder is its only user: made here, it needs no provider of its own. */
  private readonly slots: DownloadSlots;
  private readonly redirect: AppConfig['downloadRedirect'];

  constructor(
    private readonly files: FilesService,
    config: AppConfig,
    private readonly audit: AuditRecorder,
  ) {
    this.slots = new DownloadSlots(config.downloads);
    this.redirect = config.downloadRedirect;
  }

  /** Downloads sending their body now. */
  get downloadsInProgress(): number {
    return this.slots.inProgress;
  }

  /**
   * Answers on `res`: status, headers and the body, if any. A body counts against `holderKey` of
   * `holder` (a user's id, a link's signature) while it is sent.
   * The answer may be reused by the client until `reusableUntil` (a signed link's expiry), or for
   * good without it: the bytes under a file id never change.
   * @throws NotFoundError when the registry names bytes the store does not have
   * @throws RetryLaterException (429) when the holder has as many downloads in progress as it may
   */
  async respond(
    file: StoredFile,
    disposition: Disposition,
    holder: DownloadHolder,
    holderKey: string,
    req: Request,
    res: Response,
    reusableUntil?: Date,
  ): Promise<void> {
    // A file that expires may not be reused past its end.
    if (file.expiresAt && (!reusableUntil || file.expiresAt < reusableUntil)) {
      reusableUntil = file.expiresAt;
    }
    const { etag, lastModified } = headersOf(file);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModified);

    if (isNotModified(req, etag, file.createdAt)) {
      res.setHeader('Cache-Control', cacheControl(reusableUntil));
      res.status(HttpStatus.NOT_MODIFIED).end();
      return;
    }

    let request = parseRangeHeader(req.headers.range, file.size);
    if (request.kind !== 'whole' && !ifRangeHolds(req.get('if-range'), etag, lastModified)) {
      request = { kind: 'whole' };
    }
    if (request.kind === 'unsatisfiable') {
      throw new HttpExceptionWithHeaders(
        HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
        `the range is not satisfiable for a file of ${file.size} bytes`,
        { 'Content-Range': `bytes */${file.size}` },
      );
    }
    const range = request.kind === 'partial' ? request.range : undefined;
    const length = range ? range.end - range.start + 1 : file.size;

    const type =
      disposition === 'inline' && isSafeInline(file.contentType) ? 'inline' : 'attachment';
    if (req.method === 'GET' && this.redirect.mode === 'presigned') {
      const url = await this.files.presignedUrl(file, {
        expiresInSeconds: presignedLifetime(this.redirect.ttlSeconds, file.expiresAt),
        contentType: file.contentType,
        contentDisposition: headersOf(file).attachment,
      });
      if (url) {
        // The URL expires: neither it nor this answer may be reused for long.
        res.setHeader('Cache-Control', 'private, no-store');
        res.redirect(HttpStatus.FOUND, url);
        if (this.audit.enabled) {
          this.audit.record(
            {
              ...downloadEvent(file, holder, holderKey, range, length),
              details: { presigned: true },
            },
            sceneOf(req),
          );
        }
        return;
      }
    }

    let body: StoredBytes | undefined;
    if (req.method !== 'HEAD') {
      // Before a byte is read: a download over its holder's limit is refused here.
      this.slots.begin(holder, holderKey, file.id, req, res);
      body = await this.files.openBytes(file, range);
    }

    // Only here, once no error can answer instead: an error must not be reused for a year.
    res.setHeader('Cache-Control', cacheControl(reusableUntil));
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Disposition', headersOf(file)[type]);
    res.setHeader('Content-Length', String(length));
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // Opened in a browser tab, the file runs no script and reaches no origin.
    res.setHeader('Content-Security-Policy', 'sandbox');
    if (range) {
      res.status(HttpStatus.PARTIAL_CONTENT);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
    } else {
      res.status(HttpStatus.OK);
    }
    if (!body) {
      res.end();
      return;
    }
    // Bytes in memory go out in one write; a stream is piped straight into the response, so a
    // local store can reuse its read buffers (see RecyclingReadStream), and a response that
    // closes early destroys it, which frees its file or its connection to the store.
    relayBody(body, res).catch((error: Error) => {
      if (res.writableFinished) return;
      if (req.destroyed || res.destroyed) {
        this.logger.warn(`download of file ${file.id} stopped: ${error.message}`);
      } else {
        // The headers promise the file's length: no error body can honestly follow them.
        this.logger.error(`reading file ${file.id} failed: ${error.message}`);
        res.destroy();
      }
    });
    if (this.audit.enabled) {
      const event = downloadEvent(file, holder, holderKey, range, length);
      this.recordWhenClosed(req, res, body, event, length);
    }
  }

  /**
   * `event` of a download (`length` bytes to send), recorded when its response closes: finished,
   * failed or abandoned. The bytes sent are those the body handed to the response (bytes in
   * memory, all at once) less what still waited in its buffers, so a client that went away is
   * charged with what went out to the connection, not the whole range.
   */
  private recordWhenClosed(
    req: Request,
    res: Response,
    body: StoredBytes,
    event: AuditEventInput,
    length: number,
  ): void {
    const scene = sceneOf(req);
    let handedOver = 0;
    if (Buffer.isBuffer(body)) handedOver = body.length;
    else body.on('data', (chunk: Buffer) => (handedOver += chunk.length));
    // `close` comes once: `on` spares the wrapper `once` makes.
    res.on('close', () => {
      event.bytesSent = res.writableFinished
        ? length
        : Math.min(length, Math.max(0, handedOver - res.writableLength));
      this.audit.record(event, scene);
    });
  }
}

/** A file's own response headers, which never change: its validators and dispositions. */
interface FileHeaders {
  etag: string;
  lastModified: string;
  attachment: string;
  inline: string;
}

/**
 * Made once for each registry row: the registry's cache (when `caches.fileEntries` is not 0)
 * hands the same row to every download of its file (a date formatted and a filename normalized
 * on each were about 1% of a 4 KiB download), and a row it forgets takes its headers with it.
 * Rows are never changed once read.
 */
const fileHeaders = new WeakMap<StoredFile, FileHeaders>();

function headersOf(file: StoredFile): FileHeaders {
  let headers = fileHeaders.get(file);
  if (headers === undefined) {
    headers = {
      etag: `"${file.sha256}"`,
      lastModified: file.createdAt.toUTCString(),
      attachment: contentDisposition('attachment', file.filename),
      inline: contentDisposition('inline', file.filename),
    };
    fileHeaders.set(file, headers);
  }
  return headers;
}

/**
 * Seconds a presigned URL lives: DOWNLOAD_REDIRECT_TTL_SECONDS, and no longer than its file,
 * whose bytes the store would go on serving until the sweeper removes them.
 */
function presignedLifetime(ttlSeconds: number, fileExpiresAt: Date | null): number {
  if (!fileExpiresAt) return ttlSeconds;
  const left = Math.ceil((fileExpiresAt.getTime() - Date.now()) / 1000);
  return Math.max(1, Math.min(ttlSeconds, left));
}

/** A download's event: by its user, or by the signed link (`link.used`). */
function downloadEvent(
  file: StoredFile,
  holder: DownloadHolder,
  holderKey: string,
  range: { start: number; end: number } | undefined,
  length: number,
): AuditEventInput {
  const actor: AuditActor =
    holder === 'link' ? { kind: 'link', id: linkIdOf(holderKey) } : { kind: 'user', id: holderKey };
  return {
    action: holder === 'link' ? 'link.used' : 'file.downloaded',
    actor,
    fileId: file.id,
    range: range ?? (length > 0 ? { start: 0, end: length - 1 } : undefined),
  };
}

/** A year: what RFC 9111 calls "never expires" in practice (browsers cap max-age near it). */
const FOREVER_SECONDS = 31_536_000;

/**
 * Private: the file is its owner's (or a link holder's), never a shared cache's. Immutable: the
 * bytes under a file id never change, so a browser need not even revalidate while it is fresh.
 */
function cacheControl(reusableUntil: Date | undefined): string {
  const maxAge =
    reusableUntil === undefined
      ? FOREVER_SECONDS
      : Math.max(0, Math.floor((reusableUntil.getTime() - Date.now()) / 1000));
  return `private, max-age=${maxAge}, immutable`;
}

/** If-None-Match (weak comparison, a list or "*"), else If-Modified-Since (RFC 9110, 13.2.2). */
function isNotModified(req: Request, etag: string, lastModified: Date): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(',')
      .map((tag) => tag.trim())
      .some((tag) => tag === '*' || tag.replace(/^W\//, '') === etag);
  }
  const ifModifiedSince = req.headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** If-Range: a strong match of the ETag, or exactly the Last-Modified date (files never change). */
function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  return value.startsWith('"') || value.startsWith('W/') ? value === etag : value === lastModified;
}
