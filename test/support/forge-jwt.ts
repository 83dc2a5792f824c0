import { createHmac } from 'node:crypto';

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT with any header and claims, signed with HS256 and `secret` (or unsigned for alg "none"). */
export function forgeJwt(
  claims: object,
  secret: string,
  header: object = { alg: 'HS256', typ: 'JWT' },
) {
  const unsigned = `${encode(header)}.${encode(claims)}`;
  if ((header as { alg?: string }).alg === 'none') return `${unsigned}.`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

export function decodeJwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<
    string,
    unknown
  >;
}
