import { Global, MiddlewareConsumer, Module, NestModule, RequestMethod } from '@nestjs/common';
import { TempFileCleanupMiddleware } from './temp-file-cleanup.middleware.js';
import { TempFiles } from './temp-files.service.js';

@Global()
@Module({
  providers: [TempFiles],
  exports: [TempFiles],
})
export class TempFilesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(TempFileCleanupMiddleware)
      .forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }
}
