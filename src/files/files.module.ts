import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import type { MulterModuleOptions } from '@nestjs/platform-express';
// What `FileInterceptor` injects; provided here rather than through MulterModule, whose options
// could not depend on FilesService, a provider of this very module.
import { MULTER_MODULE_OPTIONS } from '@nestjs/platform-express/multer/files.constants.js';
import { AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.js';
import { QuotasModule } from '../quotas/quotas.module.js';
import { DownloadsController } from './downloads.controller.js';
import { FileResponder } from './download/file-responder.js';
import { FileLifetimes } from './file-lifetimes.js';
import { FileRegistry } from './file-registry.js';
import { FilesMetrics } from './files-metrics.js';
import { FilesController } from './files.controller.js';
import { FilesService } from './files.service.js';
import { SignedLinks } from './links/signed-links.js';
import { FileStore } from './storage/file-store.js';
import { createFileStore } from './storage/create-file-store.js';
import { measuredFileStore } from './storage/measured-file-store.js';
import { ResumableUploadRepository } from './resumable/resumable-upload-repository.js';
import { ResumableUploads } from './resumable/resumable-uploads.service.js';
import { TusController } from './resumable/tus.controller.js';
import { tusResumableHeader } from './resumable/tus-protocol.js';
import { PendingUploads } from './upload/pending-uploads.js';
import { UploadStorageEngine } from './upload/upload-storage-engine.js';

@Module({
  imports: [QuotasModule],
  // TusController first: its `files/uploads` must not be taken for a file id.
  controllers: [TusController, FilesController, DownloadsController],
  providers: [
    FilesService,
    FileRegistry,
    FileLifetimes,
    FileResponder,
    FilesMetrics,
    SignedLinks,
    PendingUploads,
    ResumableUploads,
    ResumableUploadRepository,
    {
      provide: FileStore,
      inject: [AppConfig, Metrics],
      useFactory: (config: AppConfig, metrics: Metrics) =>
        measuredFileStore(createFileStore(config), metrics),
    },
    {
      provide: MULTER_MODULE_OPTIONS,
      inject: [AppConfig, FilesService],
      useFactory: (config: AppConfig, files: FilesService): MulterModuleOptions => ({
        storage: new UploadStorageEngine(files),
        // Part headers carry UTF-8 filenames, as browsers send them.
        defParamCharset: 'utf8',
        limits: {
          fileSize: config.uploads.maxBytes,
          files: 1,
          fields: 10,
          fieldSize: 64 * 1024,
          parts: 12,
          headerPairs: 50,
        },
      }),
    },
  ],
  exports: [FilesService, FileRegistry, FileStore, PendingUploads, ResumableUploads],
})
export class FilesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(tusResumableHeader)
      .forRoutes({ path: 'files/uploads{/*splat}', method: RequestMethod.ALL });
  }
}
