const MAX_FILENAME_BYTES = 255;

/**
 * What the API calls a file's name: the client's name reduced to its base name, without control
 * characters, path separators or bidirectional overrides (which can disguise an extension),
 * in NFC, at most 255 bytes of UTF-8 (the extension kept when it can be); "file" if nothing is left.
 */
export function sanitizeFilename(name: string | undefined): string {
  const base = (name ?? '').normalize('NFC').split(/[/\\]/).pop() ?? '';
  const cleaned = base.replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, '').trim();
  if (cleaned === '' || cleaned === '.' || cleaned === '..') return 'file';
  return truncateUtf8(cleaned, MAX_FILENAME_BYTES);
}

function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = name.slice(0, name.length - extension.length);
  // Drop whole code points (never half of a surrogate pair or of a UTF-8 sequence).
  const points = [...stem];
  while (Buffer.byteLength(stem + extension) > maxBytes) {
    points.pop();
    stem = points.join('');
  }
  return stem + extension;
}
