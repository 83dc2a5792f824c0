import { Global, Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { AuditRecorder } from './audit-recorder.js';
import { AuditRepository } from './audit-repository.js';
import { AuditTrail } from './audit-trail.js';

/** The audit trail. Global: every feature records through `AuditRecorder`. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [AuditRepository, AuditTrail, { provide: AuditRecorder, useExisting: AuditTrail }],
  exports: [AuditRecorder, AuditTrail],
})
export class AuditModule {}
