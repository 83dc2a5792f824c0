import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { memoryStorage } from 'multer';
import { AppConfig } from '../config/app-config.js';
import { FilesModule } from '../files/files.module.js';
import { ImageAdmissionInterceptor, ImageGate, ImageMemoryBudget } from './image-gate.js';
import { ImageGateMetrics } from './image-gate-metrics.js';
import { ImageProcessor } from './image-processor.js';
import { ImagesController } from './images.controller.js';
import { ImagesService } from './images.service.js';

@Module({
  imports: [
    FilesModule,
    // Images never touch disk: the upload is buffered in memory, bounded by MAX_IMAGE_BYTES.
    MulterModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        storage: memoryStorage(),
        defParamCharset: 'utf8',
        limits: {
          fileSize: config.images.maxBytes,
          files: 1,
          fields: 10,
          fieldSize: 1024,
          parts: 12,
          headerPairs: 50,
        },
      }),
    }),
  ],
  controllers: [ImagesController],
  providers: [
    ImageProcessor,
    ImagesService,
    ImageAdmissionInterceptor,
    ImageGate,
    ImageMemoryBudget,
    ImageGateMetrics,
  ],
})
export class ImagesModule {}
