import { Module } from '@nestjs/common';
import { UserQuotas } from './user-quotas.js';

/** Per-user quotas of bytes and files: the limits, the usage, and the checked claims of uploads. */
@Module({
  providers: [UserQuotas],
  exports: [UserQuotas],
})
export class QuotasModule {}
