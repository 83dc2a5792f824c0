import { format, isTypeValid, parse } from 'content-type';
import { fileTypeFromBuffer } from 'file-type';

export const OCTET_STREAM = 'application/octet-stream';

/**
 * A stored file's media type: what its bytes say when they are a format file-type recognises,
 * else the type the client declared when it is a valid media type, else octet-stream.
 */
export async function decideContentType(
  head: Buffer,
  declared: string | undefined,
): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime;
  if (declared) {
    const { type, parameters } = parse(declared);
    if (isTypeValid(type)) return format({ type, parameters });
  }
  return OCTET_STREAM;
}
