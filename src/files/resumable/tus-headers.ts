import { InvalidInputError } from '../../common/domain-errors.js';
import { parseLifetime } from '../file-lifetimes.js';
import type { AppendChecksum } from './resumable-uploads.service.js';

/** The one version of the tus protocol spoken here. */
export const TUS_VERSION = '1.0.0';

/** What an append's body must be declared as. */
export const TUS_CONTENT_TYPE = 'application/offset+octet-stream';

/** The extensions of tus 1.0 that this server has. */
export const TUS_EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'termination',
  'expiration',
  'checksum',
];

/** The response header that names the stored file once the upload is complete. */
export const FILE_ID_HEADER = 'File-Id';

/** Upload-Length or Upload-Offset: a non-negative integer. */
export function parseByteCount(name: string, value: string | undefined): number {
  if (value === undefined) throw new InvalidInputError(`${name} is required`);
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidInputError(`${name} must be a non-negative integer`);
  }
  return Number(value);
}

/** What Upload-Metadata says of the file; the other keys are the client's own business. */
export interface UploadMetadata {
  filename?: string;
  filetype?: string;
  /** Seconds the file lives once the upload completes (`parseLifetime`). */
  expiresIn?: number;
}

/**
 * Upload-Metadata: comma-separated pairs of a key and its value in base64 (the value may be
 * missing), as tus-js-client and Uppy send `filename` and `filetype`.
 * @throws InvalidInputError when it is malformed, or `expiresIn` is not a lifetime
 */
export function parseMetadata(header: string | undefined): UploadMetadata {
  const metadata: UploadMetadata = {};
  if (header === undefined || header.trim() === '') return metadata;
  const seen = new Set<string>();
  for (const pair of header.split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (!key || extra !== undefined || seen.has(key) || !isBase64(value ?? '')) {
      throw new InvalidInputError('Upload-Metadata must be key-value pairs, each value in base64');
    }
    seen.add(key);
    const decoded = Buffer.from(value ?? '', 'base64').toString('utf8');
    if (key === 'filename') metadata.filename = decoded;
    if (key === 'filetype') metadata.filetype = decoded;
    if (key === 'expiresIn') metadata.expiresIn = parseLifetime(decoded);
  }
  return metadata;
}

/** Upload-Metadata for `metadata`, as a HEAD answers with it. */
export function formatMetadata(metadata: UploadMetadata): string | undefined {
  const pairs = Object.entries(metadata)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => `${key} ${Buffer.from(String(value), 'utf8').toString('base64')}`);
  return pairs.length > 0 ? pairs.join(',') : undefined;
}

/** Upload-Checksum: `sha256 <base64 digest>`, the one algorithm offered. */
export function parseChecksum(header: string | undefined): AppendChecksum | undefined {
  if (header === undefined) return undefined;
  const [algorithm, digest] = header.trim().split(' ');
  if (algorithm !== 'sha256') {
    throw new InvalidInputError('Upload-Checksum: the only algorithm supported is sha256');
  }
  const bytes = Buffer.from(digest ?? '', 'base64');
  if (!isBase64(digest ?? '') || bytes.length !== 32) {
    throw new InvalidInputError('Upload-Checksum: the sha256 digest must be 32 bytes in base64');
  }
  return { algorithm, digest: bytes };
}

function isBase64(value: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(value) && value.length % 4 === 0;
}
