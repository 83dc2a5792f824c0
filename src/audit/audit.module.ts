import { Global, Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { AuditContext } from './audit-context.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditRepository } from './audit-repository.js';
import { AuditTrail } from './audit-trail.js';

/** The audit trail. Global: every feature records through `AuditRecorder`. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [
    AuditContext,
    AuditRepository,
    AuditTrail,
    { provide: AuditRecorder, useExisting: AuditTrail },
  ],
  exports: [AuditContext, AuditRecorder, AuditTrail],
})
export class AuditModule {}
