import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Injectable } from '@nestjs/common';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { AuditScene } from '../audit/audit-scene.js';
import { AppConfig } from '../config/app-config.js';
import { FilesService } from '../files/files.service.js';
import type { Caller } from '../common/caller.js';
import { TooLargeError } from '../common/domain-errors.js';
import type { StoredFile } from '../files/stored-file.js';
import { blurredName } from './blurred-name.js';
import { ImageProcessor, type BlurOptions } from './image-processor.js';

/** Blurring a stored image into a new stored file of the caller's. */
@Injectable()
export class ImagesService {
  constructor(
    private readonly files: FilesService,
    private readonly processor: ImageProcessor,
    private readonly config: AppConfig,
    private readonly audit: AuditRecorder,
  ) {}

  /**
   * Reads the image (owner rules as for downloads), blurs it, and stores the result as uploads
   * are stored: if anything fails, nothing of it is kept.
   */
  async blurStoredFile(
    viewer: Caller,
    id: string,
    options: BlurOptions,
    scene: AuditScene,
  ): Promise<StoredFile> {
    const source = await this.files.get(id, viewer);
    const { maxBytes } = this.config.images;
    if (source.size > maxBytes) {
      throw new TooLargeError(`the file is larger than MAX_IMAGE_BYTES (${maxBytes} bytes)`);
    }
    const bytes = await this.files.openBytes(source);
    const input = Buffer.isBuffer(bytes) ? bytes : await buffer(bytes);
    const blurred = await this.processor.blur(input, options);
    // Like any upload, it counts against the viewer's quota (checked before it is stored).
    const file = await this.files.storeNew(
      viewer,
      Readable.from([blurred.data]),
      {
        filename: blurredName(source.filename, blurred.extension),
        declaredType: blurred.contentType,
      },
      blurred.data.length,
    );
    this.audit.record(
      {
        action: 'image.blurred',
        fileId: file.id,
        details: { sourceFileId: source.id, size: file.size },
      },
      scene,
    );
    return file;
  }
}
