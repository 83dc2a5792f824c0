import type { OutputFormat } from './image-formats.js';

/** What the header says of an image, before any pixel is decoded. */
export interface ImageHeader {
  width: number;
  height: number;
  hasAlpha: boolean;
}

/**
 * Peak working memory of one blur, in bytes per pixel, by output encoder (without alpha, with
 * alpha). Measured as the growth of a process's peak RSS for one blur (sigma 5, one libvips
 * thread, the encoder settings of `ImageProcessor`) of 12 and 49 megapixel JPEG and PNG inputs,
 * flat colour and noise, rounded up by about 10% (docs/benchmarks.md, "Image memory"):
 *
 *   jpeg  3.4-4.1 (alpha 5.4)   png  3.4-4.9 (alpha 5.5)
 *   webp  8.0-8.7 (alpha 18.8)  avif 23.6-39.3 (alpha 33.4-35.8)
 *
 * JPEG and PNG encode line by line; WebP holds the whole picture as YUV and ARGB; AVIF (libaom)
 * holds the picture, its reference frames and the encoder's analysis buffers.
 */
const BYTES_PER_PIXEL: Readonly<Record<OutputFormat, readonly [number, number]>> = {
  jpeg: [4.5, 6],
  png: [5.5, 6],
  webp: [9.5, 21],
  avif: [43, 43],
};

/** libvips' own buffers and thread state, whatever the image's size. */
const FIXED_BYTES = 8 * 2 ** 20;

/**
 * The memory blurring an image into `output` takes while it runs, besides the input's bytes
 * (which the caller holds already): what the image gate reserves out of IMAGE_MEMORY_BUDGET_MB.
 */
export function estimateWorkingMemory(header: ImageHeader, output: OutputFormat): number {
  const [opaque, withAlpha] = BYTES_PER_PIXEL[output];
  const perPixel = header.hasAlpha ? withAlpha : opaque;
  return Math.ceil(header.width * header.height * perPixel) + FIXED_BYTES;
}
