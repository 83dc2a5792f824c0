/**
 * Types a browser may show inline without running anything of the file's: raster images, PDF,
 * plain text, audio and video. Never HTML or SVG (scripts), nor anything unknown.
 */
export function isSafeInline(contentType: string): boolean {
  const essence = contentType.split(';')[0].trim().toLowerCase();
  if (essence === 'image/svg+xml') return false;
  return (
    /^(image|audio|video)\/[a-z0-9.+-]+$/.test(essence) ||
    essence === 'application/pdf' ||
    essence === 'text/plain'
  );
}
