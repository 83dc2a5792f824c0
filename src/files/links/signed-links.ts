import { createHmac, timingSafeEqual } from 'node:crypto';
import { ForbiddenException, GoneException, Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config.js';
import type { Disposition } from '../../common/content-disposition.js';

export interface SignedLink {
  /** Path and query as the service routes them: `/files/{id}/signed-download?expires=…&…`. */
  path: string;
  /** What clients follow: `path` on PUBLIC_BASE_URL when it is set, else on the request's origin. */
  url: string;
  expiresAt: Date;
}

/** What a signed link's query says, unchecked. */
export interface SignedLinkQuery {
  expires?: string;
  disposition?: string;
  signature?: string;
}

/**
 * Download links that need no token: an HMAC-SHA256, with a key of their own, over the file id,
 * the expiry and the disposition. Nothing is stored: a link stops working when it expires or when
 * its file is deleted.
 */
@Injectable()
export class SignedLinks {
  constructor(private readonly config: AppConfig) {}

  /**
   * @param requestOrigin `scheme://host[:port]` the request for the link was sent to, as far as
   * the service can tell; ignored when PUBLIC_BASE_URL is set, which a request cannot forge.
   */
  create(
    fileId: string,
    expiresInSeconds: number,
    disposition: Disposition,
    requestOrigin: string,
  ): SignedLink {
    const expires = String(Math.floor(Date.now() / 1000) + expiresInSeconds);
    const query = new URLSearchParams({
      expires,
      disposition,
      signature: this.sign(fileId, expires, disposition),
    });
    const path = `/files/${fileId}/signed-download?${query.toString()}`;
    return {
      path,
      url: `${this.config.publicBaseUrl ?? requestOrigin}${path}`,
      expiresAt: new Date(Number(expires) * 1000),
    };
  }

  /**
   * The disposition the link was made with.
   * @throws ForbiddenException for a link that was not made here or was altered
   * @throws GoneException for a link past its expiry
   */
  verify(
    fileId: string,
    { expires = '', disposition = '', signature = '' }: SignedLinkQuery,
  ): Disposition {
    const expected = Buffer.from(this.sign(fileId, expires, disposition));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ForbiddenException('the link is not valid');
    }
    if (Number(expires) * 1000 <= Date.now()) throw new GoneException('the link has expired');
    return disposition as Disposition;
  }

  private sign(fileId: string, expires: string, disposition: string): string {
    return createHmac('sha256', this.config.linkSecret)
      .update(`${fileId}\n${expires}\n${disposition}`)
      .digest('base64url');
  }
}
