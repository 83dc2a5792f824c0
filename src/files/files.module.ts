import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TempFiles } from '../common/temp-files/temp-files.service.js';
import { AppConfig } from '../config/app-config.js';
import { DownloadsController } from './downloads.controller.js';
import { FileResponder } from './download/file-responder.js';
import { FileRegistry } from './file-registry.js';
import { FilesController } from './files.controller.js';
import { FilesService } from './files.service.js';
import { SignedLinks } from './links/signed-links.js';
import { FileStore } from './storage/file-store.js';
import { LocalFileStore } from './storage/local-file-store.js';
import { UploadStorageEngine } from './upload/upload-storage-engine.js';

@Module({
  imports: [
    MulterModule.registerAsync({
      inject: [AppConfig, TempFiles],
      useFactory: (config: AppConfig, tempFiles: TempFiles) => ({
        storage: new UploadStorageEngine(tempFiles),
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
    }),
  ],
  controllers: [FilesController, DownloadsController],
  providers: [
    FilesService,
    FileRegistry,
    FileResponder,
    SignedLinks,
    { provide: FileStore, useClass: LocalFileStore },
  ],
  exports: [FilesService, FileRegistry, FileStore],
})
export class FilesModule {}
