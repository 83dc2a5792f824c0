import { Injectable } from '@nestjs/common';
import { fileTypeFromBuffer } from 'file-type';
import sharp, {
  type AvifOptions,
  type JpegOptions,
  type PngOptions,
  type WebpOptions,
} from 'sharp';
import { UnprocessableError, UnsupportedTypeError } from '../common/domain-errors.js';
import { AppConfig } from '../config/app-config.js';
import { INPUT_FORMATS, OUTPUT_TYPES, type OutputFormat } from './image-formats.js';
import { ImageMemoryBudget } from './image-gate.js';
import { estimateWorkingMemory, type ImageHeader } from './image-memory.js';

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
 * decoded: the format comes from the bytes, the size from the header, and the memory the work
 * will take is reserved out of the image memory budget before it starts.
 */
@Injectable()
export class ImageProcessor {
  constructor(
    private readonly config: AppConfig,
    private readonly memory: ImageMemoryBudget,
  ) {
    // Every image is processed once: libvips' operation cache would only hold memory.
    sharp.cache(false);
    // One libvips thread per image: the gate already runs one image per core (IMAGE_CONCURRENCY),
    // and more threads per image measured no faster here (docs/benchmarks.md). Set, not left to
    // sharp, whose default follows the allocator (1 on glibc, every core with jemalloc).
    sharp.concurrency(1);
  }

  /**
   * @throws UnsupportedTypeError (415) when the bytes are not a supported image format
   * @throws UnprocessableError (422) when the image is too large, undecodable or too slow
   */
  async blur(input: Buffer, { sigma, format }: BlurOptions): Promise<BlurredImage> {
    const detected = await fileTypeFromBuffer(input);
    const inputFormat = detected && INPUT_FORMATS[detected.mime];
    if (!inputFormat) {
      throw new UnsupportedTypeError(
        `not a JPEG, PNG, WebP, AVIF or GIF image${detected ? ` (the bytes are ${detected.mime})` : ''}`,
      );
    }
    const { timeoutSeconds } = this.config.images;
    const output = format ?? inputFormat;
    const header = await readHeader(input);
    const release = await this.reserveMemory(header, output);
    try {
      let pipeline = sharp(input, {
        limitInputPixels: this.config.images.maxPixels,
        failOn: 'warning',
        pages: 1,
      })
        .autoOrient()
        .blur(sigma);
      // JPEG has no alpha: transparent pixels become white, not black.
      if (output === 'jpeg' && header.hasAlpha) {
        pipeline = pipeline.flatten({ background: '#ffffff' });
      }
      pipeline = pipeline
        .toFormat(output, ENCODER_OPTIONS[output])
        .timeout({ seconds: timeoutSeconds });
      // Metadata (EXIF, GPS, XMP) is not copied: sharp strips it unless asked to keep it.
      return { data: await pipeline.toBuffer(), ...OUTPUT_TYPES[output] };
    } catch (error) {
      throw new UnprocessableError(
        /timeout/i.test(String(error))
          ? `processing the image took longer than ${timeoutSeconds} s`
          : 'the image cannot be decoded',
      );
    } finally {
      release();
    }
  }

  /**
   * Checks the image's size against the pixel caps and the memory budget, then waits until the
   * budget has room for it.
   * @throws UnprocessableError when the image could never be processed here
   * @throws GateBusyError (503) when the budget stays full for IMAGE_QUEUE_TIMEOUT_MS
   */
  private async reserveMemory(header: ImageHeader, output: OutputFormat): Promise<() => void> {
    const { maxPixels, maxAvifPixels } = this.config.images;
    const { width, height } = header;
    const size = `${width}×${height} pixels`;
    if (width * height > maxPixels) {
      throw new UnprocessableError(
        `the image has ${size}, more than MAX_IMAGE_PIXELS (${maxPixels})`,
      );
    }
    if (output === 'avif' && width * height > maxAvifPixels) {
      throw new UnprocessableError(
        `the image has ${size}, more than IMAGE_MAX_AVIF_PIXELS (${maxAvifPixels}) for AVIF ` +
          'output: ask for webp, jpeg or png',
      );
    }
    const needed = estimateWorkingMemory(header, output);
    if (needed > this.memory.capacity) {
      throw new UnprocessableError(
        `blurring this image (${size}) into ${output} needs about ${mebibytes(needed)} MiB, more ` +
          `than IMAGE_MEMORY_BUDGET_MB (${mebibytes(this.memory.capacity)}) allows`,
      );
    }
    return this.memory.acquire(undefined, needed);
  }
}

/** The header alone: read without sharp's own pixel limit, which would refuse it unexplained. */
async function readHeader(input: Buffer): Promise<ImageHeader> {
  const {
    width = 0,
    height = 0,
    hasAlpha = false,
  } = await sharp(input, { limitInputPixels: false })
    .metadata()
    .catch(() => {
      throw new UnprocessableError('the image cannot be decoded');
    });
  return { width, height, hasAlpha };
}

function mebibytes(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
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
