import {
  Injectable,
  UnprocessableEntityException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { fileTypeFromBuffer } from 'file-type';
import sharp, {
  type AvifOptions,
  type JpegOptions,
  type PngOptions,
  type WebpOptions,
} from 'sharp';
import { AppConfig } from '../config/app-config.js';
import { INPUT_FORMATS, OUTPUT_TYPES, type OutputFormat } from './image-formats.js';

export interface BlurOptions {
  sigma: number;
  /** The input's format when absent (PNG for GIF). */
  format?: OutputFormat;
}

export interface BlurredImage {
  data: Buffer;
  contentType: string;
  extension: string;
}

/**
 * The one class that touches sharp (libvips). Hostile input is refused before any pixel is
 * decoded: the format comes from the bytes, the size from the header.
 */
@Injectable()
export class ImageProcessor {
  constructor(private readonly config: AppConfig) {
    // Every image is processed once: libvips' operation cache would only hold memory.
    sharp.cache(false);
    // One libvips thread per image: the gate already runs one image per core (IMAGE_CONCURRENCY),
    // and more threads per image measured no faster here (docs/benchmarks.md). Set, not left to
    // sharp, whose default follows the allocator (1 on glibc, every core with jemalloc).
    sharp.concurrency(1);
  }

  /**
   * @throws UnsupportedMediaTypeException (415) when the bytes are not a supported image format
   * @throws UnprocessableEntityException (422) when the image is too large, undecodable or too slow
   */
  async blur(input: Buffer, { sigma, format }: BlurOptions): Promise<BlurredImage> {
    const detected = await fileTypeFromBuffer(input);
    const inputFormat = detected && INPUT_FORMATS[detected.mime];
    if (!inputFormat) {
      throw new UnsupportedMediaTypeException(
        `not a JPEG, PNG, WebP, AVIF or GIF image${detected ? ` (the bytes are ${detected.mime})` : ''}`,
      );
    }
    const { maxPixels, timeoutSeconds } = this.config.images;
    // The header alone: read without sharp's own pixel limit, which would refuse it unexplained.
    const {
      width = 0,
      height = 0,
      hasAlpha,
    } = await sharp(input, { limitInputPixels: false })
      .metadata()
      .catch(() => {
        throw new UnprocessableEntityException('the image cannot be decoded');
      });
    if (width * height > maxPixels) {
      throw new UnprocessableEntityException(
        `the image has ${width}×${height} pixels, more than MAX_IMAGE_PIXELS (${maxPixels})`,
      );
    }

    const output = format ?? inputFormat;
    let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'warning', pages: 1 })
      .autoOrient()
      .blur(sigma);
    // JPEG has no alpha: transparent pixels become white, not black.
    if (output === 'jpeg' && hasAlpha) pipeline = pipeline.flatten({ background: '#ffffff' });
    pipeline = pipeline
      .toFormat(output, ENCODER_OPTIONS[output])
      .timeout({ seconds: timeoutSeconds });
    try {
      // Metadata (EXIF, GPS, XMP) is not copied: sharp strips it unless asked to keep it.
      return { data: await pipeline.toBuffer(), ...OUTPUT_TYPES[output] };
    } catch (error) {
      throw new UnprocessableEntityException(
        /timeout/i.test(String(error))
          ? `processing the image took longer than ${timeoutSeconds} s`
          : 'the image cannot be decoded',
      );
    }
  }
}

/**
 * Encoder settings, chosen by measurement on a 1920×1080 photo, one libvips thread
 * (docs/benchmarks.md): mozjpeg's Huffman optimisation took 25 of the 40 ms of a JPEG encode for a
 * few percent of size; WebP and AVIF at their default effort took 0.4 s and 4 s, at effort 2
 * 0.18 s and 0.7 s. Slots of the image gate are held for that long.
 */
const ENCODER_OPTIONS: {
  jpeg: JpegOptions;
  png: PngOptions;
  webp: WebpOptions;
  avif: AvifOptions;
} = {
  jpeg: { optimiseCoding: false },
  png: {},
  webp: { effort: 2 },
  avif: { effort: 2 },
};
