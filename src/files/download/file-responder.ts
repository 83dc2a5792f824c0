import { HttpStatus, Injectable, Logger, StreamableFile } from '@nestjs/common';
import type { Request, Response } from 'express';
import { HttpExceptionWithHeaders } from '../../common/http-exceptions.js';
import { AppConfig } from '../../config/app-config.js';
import { FilesService } from '../files.service.js';
import type { StoredFile } from '../stored-file.js';
import { contentDisposition, type Disposition } from '../../common/content-disposition.js';
import { DownloadSlots, type DownloadHolder } from './download-slots.js';
import { isSafeInline } from './safe-inline.js';
import { parseRangeHeader } from './range-header.js';

/**
 * Turns a stored file into the HTTP response of a download: the one place that knows validators,
 * conditional requests, ranges and dispositions (API.md, "Downloads"), and that counts and bounds
 * the downloads in progress (`DownloadSlots`). Every download route, authenticated or signed link,
 * answers through it.
 */
@Injectable()
export class FileResponder {
  private readonly logger = new Logger(FileResponder.name);
  /** The responder is its only user: made here, it needs no provider of its own. */
  private readonly slots: DownloadSlots;

  constructor(
    private readonly files: FilesService,
    config: AppConfig,
  ) {
    this.slots = new DownloadSlots(config.downloads);
  }

  /**
   * Sets the status and headers on `res`; returns the body to send, or undefined for none (304).
   * A body counts against `holderKey` of `holder` (a user's id, a link's signature) while it is sent.
   * The answer may be reused by the client until `reusableUntil` (a signed link's expiry), or for
   * good without it: the bytes under a file id never change.
   * @throws NotFoundException when the registry names bytes the store does not have
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
  ): Promise<StreamableFile | undefined> {
    const etag = `"${file.sha256}"`;
    const lastModified = file.createdAt.toUTCString();
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', lastModified);

    if (isNotModified(req, etag, file.createdAt)) {
      res.setHeader('Cache-Control', cacheControl(reusableUntil));
      res.status(HttpStatus.NOT_MODIFIED);
      return undefined;
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

    // A HEAD sends no body: it ends as soon as the file is open.
    if (req.method !== 'HEAD') this.slots.begin(holder, holderKey, file.id, req, res);
    // The response is the only consumer of the chunks: their buffers can be reused.
    const body = await this.files.openBytes(file, range, res);

    const type =
      disposition === 'inline' && isSafeInline(file.contentType) ? 'inline' : 'attachment';
    // Only here, once no error can answer instead: an error must not be reused for a year.
    res.setHeader('Cache-Control', cacheControl(reusableUntil));
    res.setHeader('Content-Type', file.contentType);
    res.setHeader('Content-Disposition', contentDisposition(type, file.filename));
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
    return new StreamableFile(body)
      .setErrorLogger((error) =>
        this.logger.warn(`download of file ${file.id} stopped: ${error.message}`),
      )
      .setErrorHandler((error, response) => {
        // The headers promise the file's length: no error body can honestly follow them.
        this.logger.error(`reading file ${file.id} failed: ${error.message}`);
        response.destroy?.();
      });
  }
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
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(lastModified.getTime() / 1000) * 1000 <= since;
}

/** If-Range: a strong match of the ETag, or exactly the Last-Modified date (files never change). */
function ifRangeHolds(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  return value.startsWith('"') || value.startsWith('W/') ? value === etag : value === lastModified;
}
