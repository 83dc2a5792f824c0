import { ApiProperty } from '@nestjs/swagger';
import { ACTOR_KINDS, AUDIT_ACTIONS, type AuditEvent } from '../audit-event.js';

export class AuditActorDto {
  @ApiProperty({
    enum: ACTOR_KINDS,
    description:
      '`user` (id: the user id), `link` (id: the signed link, hashed), `username` (a failed ' +
      "login: the name tried), `cli` (the operator CLI), `system` (the service's own work)",
  })
  kind!: string;

  @ApiProperty({ type: String, nullable: true })
  id!: string | null;
}

export class ByteRangeDto {
  @ApiProperty({ description: 'First byte' })
  start!: number;

  @ApiProperty({ description: 'Last byte (inclusive)' })
  end!: number;
}

export class AuditEventDto {
  @ApiProperty({ description: 'Increasing with every event recorded' })
  id!: number;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({ enum: AUDIT_ACTIONS })
  action!: string;

  @ApiProperty({ type: AuditActorDto })
  actor!: AuditActorDto;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  fileId!: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The client's address" })
  clientAddress!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'At most 512 characters' })
  userAgent!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: "The request's id (`X-Request-Id`); null outside a request",
  })
  requestId!: string | null;

  @ApiProperty({
    type: ByteRangeDto,
    nullable: true,
    description: 'A download: the bytes it was to send (the whole file, or the Range asked for)',
  })
  range!: ByteRangeDto | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      'A download: the bytes handed to the connection (its socket buffers included); less than ' +
      'the range when the client went away before the end',
  })
  bytesSent!: number | null;

  @ApiProperty({
    type: Object,
    nullable: true,
    description: 'What else the action says: a user changed, a link made, the source of a blur',
  })
  details!: Record<string, unknown> | null;

  static from(event: AuditEvent): AuditEventDto {
    return { ...event, at: event.at.toISOString() };
  }
}

export class AuditEventListDto {
  @ApiProperty({ type: [AuditEventDto] })
  items!: AuditEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next (older) page; null on the last one',
  })
  nextCursor!: string | null;
}
