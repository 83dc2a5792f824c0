import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Injectable, PayloadTooLargeException } from '@nestjs/common';
import { TempFiles } from '../common/temp-files/temp-files.service.js';
import { AppConfig } from '../config/app-config.js';
import { FilesService } from '../files/files.service.js';
import type { StoredFile, Viewer } from '../files/stored-file.js';
import { blurredName } from './blurred-name.js';
import { ImageProcessor, type BlurOptions } from './image-processor.js';

/** Blurring a stored image into a new stored file of the caller's. */
@Injectable()
export class ImagesService {
  constructor(
    private readonly files: FilesService,
    private readonly processor: ImageProcessor,
    private readonly tempFiles: TempFiles,
    private readonly config: AppConfig,
  ) {}

  /**
   * Reads the image (owner rules as for downloads), blurs it, writes the result to a temp file of
   * `request` and commits it as uploads are committed. Whatever fails, the temp file goes with
   * the request.
   */
  async blurStoredFile(
    request: object,
    viewer: Viewer,
    id: string,
    options: BlurOptions,
  ): Promise<StoredFile> {
    const source = await this.files.get(id, viewer);
    const { maxBytes } = this.config.images;
    if (source.size > maxBytes) {
      throw new PayloadTooLargeException(
        `the file is larger than MAX_IMAGE_BYTES (${maxBytes} bytes)`,
      );
    }
    const input = await buffer(await this.files.openBytes(source));
    const blurred = await this.processor.blur(input, options);
    const written = await this.tempFiles.write(request, Readable.from([blurred.data]), 'blur');
    return this.files.commit(request, viewer, written, {
      filename: blurredName(source.filename, blurred.extension),
      declaredType: blurred.contentType,
    });
  }
}
