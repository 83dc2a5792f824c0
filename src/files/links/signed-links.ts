import { createHash, createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditRecorder } from '../../audit/audit-recorder.js';
import type { AuditScene } from '../../audit/audit-scene.js';
import { ExpiredError, ForbiddenError } from '../../common/domain-errors.js';
import { AppConfig } from '../../config/app-config.js';
import type { Disposition } from '../../common/content-disposition.js';
import { KeyRing } from '../../common/key-ring.js';

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
  /** The id of the key that signed it; absent from links made before keys had ids. */
  kid?: string;
  signature?: string;
}

/**
 * Download links that need no token: an HMAC-SHA256, with a key of their own, over the file id,
 * the expiry and the disposition. Nothing is stored: a link stops working when it expires or when
 * its file is deleted. New links are signed with LINK_SECRET (or the key derived from JWT_SECRET)
 * and name it by its id (`kid`); links signed with a previous key keep working until that key is
 * dropped from the configuration.
 */
@Injectable()
export class SignedLinks {
  private readonly keys: KeyRing;

  constructor(
    private readonly config: AppConfig,
    private readonly audit: AuditRecorder,
  ) {
    this.keys = new KeyRing(config.linkSecret, config.previousLinkSecrets, 'link');
  }

  /**
   * @param requestOrigin `scheme://host[:port]` the request for the link was sent to, as far as
   * the service can tell; ignored when PUBLIC_BASE_URL is set, which a request cannot forge.
   * @param scene who asks for the link, for the audit trail
   */
  create(
    fileId: string,
    expiresInSeconds: number,
    disposition: Disposition,
    requestOrigin: string,
    scene: AuditScene,
  ): SignedLink {
    const expires = String(Math.floor(Date.now() / 1000) + expiresInSeconds);
    const { id, key } = this.keys.current;
    const signature = sign(key, fileId, expires, disposition);
    const query = new URLSearchParams({ expires, disposition, kid: id, signature });
    const path = `/files/${fileId}/signed-download?${query.toString()}`;
    const expiresAt = new Date(Number(expires) * 1000);
    this.audit.record(
      {
        action: 'link.created',
        fileId,
        details: { linkId: linkIdOf(signature), expiresAt: expiresAt.toISOString(), disposition },
      },
      scene,
    );
    return {
      path,
      url: `${this.config.publicBaseUrl ?? requestOrigin}${path}`,
      expiresAt,
    };
  }

  /**
   * The disposition the link was made with.
   * @throws ForbiddenError for a link that was not made here or was altered
   * @throws ExpiredError for a link past its expiry
   */
  verify(
    fileId: string,
    { expires = '', disposition = '', kid, signature = '' }: SignedLinkQuery,
  ): Disposition {
    const given = Buffer.from(signature);
    const signed = this.keys.candidates(kid).some(({ key }) => {
      const expected = Buffer.from(sign(key, fileId, expires, disposition));
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!signed) throw new ForbiddenError('the link is not valid');
    if (Number(expires) * 1000 <= Date.now()) throw new ExpiredError('the link has expired');
    return disposition as Disposition;
  }
}

/**
 * What names a link in the audit trail: a hash of its signature, which is unique to the link but,
 * unlike the signature, does not download the file.
 */
export function linkIdOf(signature: string): string {
  return createHash('sha256').update(signature).digest('hex').slice(0, 32);
}

function sign(key: KeyObject, fileId: string, expires: string, disposition: string): string {
  return createHmac('sha256', key)
    .update(`${fileId}\n${expires}\n${disposition}`)
    .digest('base64url');
}
