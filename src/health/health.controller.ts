import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { sql } from 'kysely';
import { Public } from '../auth/auth.decorators.js';
import { ErrorDto } from '../common/error.dto.js';
import { Database } from '../database/database.js';
import { FileStore } from '../files/storage/file-store.js';

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly db: Database,
    private readonly store: FileStore,
  ) {}

  @Public()
  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: 'Whether the registry database and the storage are usable (as /health/ready)',
  })
  @ApiServiceUnavailableResponse({
    type: ErrorDto,
    description: 'A dependency is down; `details` says which',
  })
  check() {
    return this.readiness();
  }

  /**
   * Touches no dependency: an orchestrator restarts a process that fails liveness, and a restart
   * cannot mend a database or a disk.
   */
  @Public()
  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Whether the process answers at all (no database or storage check)' })
  live() {
    return this.health.check([]);
  }

  @Public()
  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Whether the registry database and the storage are usable' })
  @ApiServiceUnavailableResponse({
    type: ErrorDto,
    description: 'A dependency is down; `details` says which',
  })
  ready() {
    return this.readiness();
  }

  private readiness() {
    return this.health.check([() => this.database(), () => this.storage()]);
  }

  private async database(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('database');
    try {
      await sql`select 1`.execute(this.db);
      return indicator.up();
    } catch {
      return indicator.down('the registry database does not answer');
    }
  }

  /** The store says whether it can take uploads (a local folder writable, a bucket reachable). */
  private async storage(): Promise<HealthIndicatorResult> {
    const indicator = this.indicators.check('storage');
    try {
      await this.store.check();
      return indicator.up();
    } catch {
      return indicator.down('the storage cannot take files');
    }
  }
}
