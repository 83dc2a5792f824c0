import { DynamicModule, Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { OwnerFileDefaultsModule } from '../accounts/owner-file-defaults.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { AuthModule } from '../auth/auth.module.js';
import { AppConfig } from '../config/app-config.js';
import { ConfigModule } from '../config/config.module.js';
import { DatabaseModule } from '../database/database.module.js';
import { MetricsOffModule } from '../metrics/metrics.module.js';
import { UsersModule } from '../users/users.module.js';

/** What the operator commands need: the configured database and the account services, no HTTP. */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        MetricsOffModule,
        AuditModule,
        UsersModule,
        AccountsModule,
        OwnerFileDefaultsModule,
        AuthModule,
      ],
    };
  }
}
