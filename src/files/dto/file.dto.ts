import { ApiProperty } from '@nestjs/swagger';
import type { StoredFile } from '../stored-file.js';

/** A file's metadata, as every route that describes a file returns it. */
export class FileDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({
    example: 'report.pdf',
    description: "The client's name, sanitised (at most 255 bytes)",
  })
  filename!: string;

  @ApiProperty({
    example: 'application/pdf',
    description:
      'What the bytes are, when recognised; else the declared type if valid; else application/octet-stream',
  })
  contentType!: string;

  @ApiProperty({ example: 52_431, description: 'Bytes' })
  size!: number;

  @ApiProperty({
    example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    description: 'Lowercase hex SHA-256 of the bytes',
  })
  sha256!: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-21T17:40:00.000Z' })
  createdAt!: string;

  @ApiProperty({ format: 'uuid' })
  ownerId!: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    example: null,
    description:
      "When the file stops existing (its `expiresIn` at upload, else its owner's default " +
      'lifetime): from then on it is a 404 everywhere, its links included. Null: until deleted.',
  })
  expiresAt!: string | null;

  static from(file: StoredFile): FileDto {
    return {
      id: file.id,
      filename: file.filename,
      contentType: file.contentType,
      size: file.size,
      sha256: file.sha256,
      createdAt: file.createdAt.toISOString(),
      ownerId: file.ownerId,
      expiresAt: file.expiresAt?.toISOString() ?? null,
    };
  }
}

export class FileListDto {
  @ApiProperty({ type: [FileDto] })
  items!: FileDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` for the next page; null on the last one',
  })
  nextCursor!: string | null;
}
