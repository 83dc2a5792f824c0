import { sanitizeFilename } from '../files/upload/filename.js';

/** `<stem>-blurred.<ext>`: the original name without its extension, "image" when there is none. */
export function blurredName(originalName: string | undefined, extension: string): string {
  const name = originalName ? sanitizeFilename(originalName) : 'image';
  const dot = name.lastIndexOf('.');
  const stem = dot > 0 ? name.slice(0, dot) : name;
  return sanitizeFilename(`${stem}-blurred.${extension}`);
}
