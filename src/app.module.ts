import {
  DynamicModule,
  MiddlewareConsumer,
  Module,
  NestModule,
  RequestMethod,
  ValidationPipe,
} from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { json } from 'express';
import { LoggerModule } from 'nestjs-pino';
import { AccountsModule } from './accounts/accounts.module.js';
import { OwnerFileDefaultsModule } from './accounts/owner-file-defaults.module.js';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { AllExceptionsFilter } from './common/all-exceptions.filter.js';
import { LogFlush } from './common/logging/log-flush.js';
import { loggerOptions } from './common/logging/logger-options.js';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { FilesModule } from './files/files.module.js';
import { StorageSweeper } from './files/storage-sweeper.js';
import { HealthModule } from './health/health.module.js';
import { ImagesModule } from './images/images.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { BootstrapAdmin } from './users/bootstrap-admin.js';
import { UsersModule } from './users/users.module.js';

@Module({})
export class AppModule implements NestModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot(loggerOptions(config)),
        MetricsModule,
        DatabaseModule,
        AuditModule,
        UsersModule,
        AccountsModule,
        OwnerFileDefaultsModule,
        AuthModule,
        FilesModule,
        ImagesModule,
        HealthModule,
      ],
      providers: [
        // The server's own start-up and background work; the operator CLI does neither.
        BootstrapAdmin,
        StorageSweeper,
        LogFlush,
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            transform: true,
          }),
        },
      ],
    };
  }

  /**
   * JSON bodies are parsed here, after the request logger (mounted in `createApp`), rather than
   * by Nest's built-in parser, which runs before every middleware: a malformed body is logged too.
   * Only on the methods that carry a body: a download has no use for the parser. Not on an upload,
   * whose body may be the file itself, JSON or not (see `RawBodyUploadInterceptor`).
   */
  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(json({ limit: '64kb' }))
      .exclude({ path: 'files', method: RequestMethod.POST })
      .forRoutes(
        ...[RequestMethod.POST, RequestMethod.PUT, RequestMethod.PATCH].map((method) => ({
          path: '{/*splat}',
          method,
        })),
      );
  }
}
