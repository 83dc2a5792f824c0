import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module.js';
import { AppConfig } from '../config/app-config.js';
import { Database } from '../database/database.js';
import { QuotasModule } from '../quotas/quotas.module.js';
import { UsersModule } from '../users/users.module.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { BearerAuthGuard } from './bearer-auth.guard.js';
import { BearerAuthenticator } from './bearer-authenticator.js';
import { OidcTokens } from './oidc/oidc-tokens.js';
import { RolesGuard } from './roles.guard.js';
import { RouteDeclarations } from './route-declarations.js';
import { ScopesGuard } from './scopes.guard.js';
import { SessionTokens } from './session-tokens.js';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

@Module({
  imports: [UsersModule, ApiKeysModule, QuotasModule],
  controllers: [AuthController],
  providers: [
    AuthService,
    SessionTokens,
    {
      provide: SlidingWindowLimiter,
      inject: [Database],
      useFactory: (db: Database) => new SlidingWindowLimiter(db),
    },
    {
      provide: VerifiedTokenCache,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new VerifiedTokenCache(config.caches.tokens),
    },
    OidcTokens,
    BearerAuthenticator,
    RouteDeclarations,
    // In this order: who is calling, then their role, then their credential's scopes.
    { provide: APP_GUARD, useClass: BearerAuthGuard },
    { provide: APP_GUARD, useClass: RolesGuard },
    { provide: APP_GUARD, useClass: ScopesGuard },
  ],
  exports: [AuthService],
})
export class AuthModule {}
