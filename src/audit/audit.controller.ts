import { Controller, Get, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from '../auth/auth.decorators.js';
import { ErrorDto } from '../common/error.dto.js';
import { AuditTrail } from './audit-trail.js';
import { AuditEventDto, AuditEventListDto } from './dto/audit-event.dto.js';
import { ListAuditEventsQueryDto } from './dto/list-audit-events-query.dto.js';

@AdminApi()
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly trail: AuditTrail) {}

  @Get()
  @ApiOperation({
    summary: 'The audit trail, newest first',
    description:
      'Logins, uploads, downloads (with their range and the bytes sent), signed links made and ' +
      'used, deletions, blurs and changes to users, filtered by acting user, file, action and ' +
      'time. Events are written in batches about a second after they happen.',
  })
  @ApiOkResponse({ type: AuditEventListDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'A malformed filter, limit or cursor' })
  async list(@Query() query: ListAuditEventsQueryDto): Promise<AuditEventListDto> {
    const { limit, cursor, since, until, userId, fileId, action } = query;
    const events = await this.trail.list(
      {
        userId: userId?.toLowerCase(),
        fileId: fileId?.toLowerCase(),
        action,
        since: since === undefined ? undefined : Date.parse(since),
        until: until === undefined ? undefined : Date.parse(until),
      },
      limit + 1,
      cursor === undefined ? undefined : Number(cursor),
    );
    const items = events.slice(0, limit);
    return {
      items: items.map(AuditEventDto.from),
      nextCursor: events.length > limit ? String(items.at(-1)!.id) : null,
    };
  }
}
