import { encodeExtended } from 'content-disposition';

export type Disposition = 'attachment' | 'inline';
export const DISPOSITIONS: readonly Disposition[] = ['attachment', 'inline'];

/**
 * `attachment|inline; filename="<safe ASCII>"`, plus `filename*=UTF-8''…` (RFC 8187) whenever
 * the ASCII stand-in is not the name itself. Nothing of the name can end the header.
 */
export function contentDisposition(type: Disposition, filename: string): string {
  const fallback = asciiFallback(filename);
  const header = `${type}; filename="${fallback}"`;
  return fallback === filename ? header : `${header}; filename*=${encodeExtended(filename)}`;
}

/** Accents dropped (é → e), then anything outside printable ASCII, and " \ %, becomes "_". */
function asciiFallback(filename: string): string {
  return filename
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7e]|["\\%]/g, '_');
}
