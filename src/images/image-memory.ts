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
 * flat colour and noise, with flat and with noisy alpha, and rounded up by about 10%
 * (docs/benchmarks.md, "Image memory"):
 *
 *   jpeg  3.4-4.3 (alpha 3.6-4.4)   png  3.4-5.5 (alpha 4.6-7.5)
 *   webp  8.0-8.7 (alpha 17.9-34.8) avif 23.6-37.7 (alpha 33.7-53.7)
 *
 * A detailed alpha channel costs WebP and AVIF far more than a flat one: the factors with alpha
 * are those of noisy alpha, which a hostile upload can send in a few megabytes.
 *
 * JPEG and PNG encode line by line; WebP holds the whole picture as YUV and ARGB; AVIF (libaom)
 * holds the picture, its reference frames and the encoder's analysis buffers.
 */
const BYTES_PER_PIXEL: Readonly<Record<OutputFormat, readonly [number, number]>> = {
  jpeg: [4.5, 5],
  png: [6, 8.5],
  webp: [9.5, 38],
  avif: [42, 59],
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
