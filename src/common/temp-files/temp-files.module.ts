import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TempFileCleanupInterceptor } from './temp-file-cleanup.interceptor.js';
import { TempFiles } from './temp-files.service.js';

@Global()
@Module({
  providers: [TempFiles, { provide: APP_INTERCEPTOR, useClass: TempFileCleanupInterceptor }],
  exports: [TempFiles],
})
export class TempFilesModule {}
