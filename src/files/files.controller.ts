import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { AuditScene } from '../audit/audit-scene.js';
import { RequestScene } from '../audit/request-scene.js';
import { CurrentUser, Scopes } from '../auth/auth.decorators.js';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { FileDto, FileListDto } from './dto/file.dto.js';
import { CreateLinkDto, LinkDto } from './dto/links.dto.js';
import { ListFilesQueryDto } from './dto/list-files-query.dto.js';
import { FilesService } from './files.service.js';
import { SignedLinks } from './links/signed-links.js';
import { FILE_PART_REWRITE_OPTIONS } from './upload/file-part-stream.js';
import { BeginUploadInterceptor } from './upload/begin-upload.interceptor.js';
import { RawBodyUploadInterceptor } from './upload/raw-body-upload.interceptor.js';
import { lifetimeOf, UploadLifetimeInterceptor } from './upload/upload-lifetime.interceptor.js';
import type { UploadedFilePart } from './upload/received-upload.js';

@ApiTags('files')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorDto })
@Controller('files')
export class FilesController {
  constructor(
    private readonly files: FilesService,
    private readonly links: SignedLinks,
  ) {}

  @Post()
  @Scopes('files:write')
  // BeginUploadInterceptor claims the quota before any of the body is read (after
  // UploadLifetimeInterceptor has refused a bad `expiresIn`); then FileInterceptor receives a
  // multipart body, RawBodyUploadInterceptor any other.
  @UseInterceptors(
    UploadLifetimeInterceptor,
    BeginUploadInterceptor,
    FileInterceptor('file', FILE_PART_REWRITE_OPTIONS),
    RawBodyUploadInterceptor,
  )
  @ApiOperation({
    summary: 'Upload a file (streamed to the store, never held in memory)',
    description:
      'The file is one `multipart/form-data` part named `file`, or the whole request body under ' +
      'any other Content-Type, with a Content-Length or chunked (at least one byte: an empty ' +
      'file comes as a multipart part). `contentType` is what the bytes are when recognised, ' +
      'else the declared type when valid, else `application/octet-stream`; the declared type is ' +
      "the part's Content-Type (`text/plain` for a part without one, RFC 7578), or the request's " +
      "(`application/octet-stream` without one). The name is the part's filename; for a raw " +
      'body, the `filename` query parameter, else the filename (`filename*` first) of a ' +
      '`Content-Disposition` request header. `filename` is that name decoded as UTF-8, reduced ' +
      'to its base name, without control characters or separators, at most 255 bytes; `file` ' +
      'when nothing is left, or when no name was given.',
    requestBody: {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: {
              expiresIn: {
                type: 'integer',
                minimum: 1,
                description:
                  'As the `expiresIn` query parameter (not both), in a field before the file part',
              },
              file: { type: 'string', format: 'binary' },
            },
          },
        },
        'application/octet-stream': {
          // Any other type will do, as the description says: a key cannot say "all but multipart".
          schema: {
            type: 'string',
            format: 'binary',
            description:
              'The bytes of the file, under any Content-Type but multipart/*, which is ' +
              'its declared type',
          },
        },
      },
    },
  })
  @ApiQuery({
    name: 'filename',
    type: String,
    required: false,
    description:
      "The file's name, for a raw body (over a `Content-Disposition` header); a multipart " +
      "upload's name is its part's.",
  })
  @ApiQuery({
    name: 'expiresIn',
    type: 'integer',
    required: false,
    description:
      'Seconds the file lives, from the upload (a whole number, at least 1; or a multipart ' +
      'field `expiresIn` before the file part); then it is a 404 ' +
      'everywhere, its signed links included, and the sweeper removes it. At most ' +
      'MAX_FILE_TTL_SECONDS when that is set: more is a 400 before a byte is stored, never cut ' +
      "short. Without it, the owner's default lifetime (`defaultFileTtlSeconds`, also capped), " +
      'else until deleted.',
  })
  @ApiCreatedResponse({ type: FileDto, description: '`Location: /files/{id}`' })
  @ApiBadRequestResponse({
    type: ErrorDto,
    description:
      'No body, a multipart body without a `file` part or with more than one file; an ' +
      '`expiresIn` that is not a whole number of seconds, or over MAX_FILE_TTL_SECONDS',
  })
  @ApiPayloadTooLargeResponse({
    type: ErrorDto,
    description:
      "Larger than MAX_UPLOAD_BYTES, or more than the uploader's quota (bytes or files) " +
      'allows, which the message names; nothing is kept. A body whose Content-Length passes ' +
      'the quota (for multipart, the whole body counts), or a raw body whose Content-Length ' +
      'passes MAX_UPLOAD_BYTES, is refused before a byte of it is read; a chunked body over ' +
      'the quota once it is all in. What is left of a refused body is not read: the connection ' +
      'closes (`Connection: close`).',
  })
  async upload(
    @UploadedFile() upload: UploadedFilePart | undefined,
    @Query('expiresIn') queryLifetime: unknown,
    @Body('expiresIn') fieldLifetime: unknown,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FileDto> {
    if (!upload) {
      throw new BadRequestException(
        'send the file as the request body, or as a multipart part named "file"',
      );
    }
    const file = await this.files.commit(
      upload.written,
      user,
      { filename: upload.originalname, declaredType: upload.mimetype },
      scene,
      lifetimeOf(upload, queryLifetime, fieldLifetime),
    );
    res.location(`/files/${file.id}`);
    return FileDto.from(file);
  }

  @Get()
  @Scopes('files:read')
  @ApiOperation({
    summary: 'List files, newest first (yours; every file for an admin)',
    description: 'Files past their `expiresAt` are not listed.',
  })
  @ApiOkResponse({ type: FileListDto })
  @ApiBadRequestResponse({
    type: ErrorDto,
    description: '`limit` out of range, or a malformed `cursor`',
  })
  async list(
    @Query() { limit, cursor }: ListFilesQueryDto,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<FileListDto> {
    const page = await this.files.list(user, limit, cursor);
    return { items: page.items.map(FileDto.from), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @Scopes('files:read')
  @ApiOperation({ summary: "A file's metadata" })
  @ApiOkResponse({ type: FileDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  async get(
    @Param('id', ParseIdPipe) id: string,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<FileDto> {
    return FileDto.from(await this.files.get(id, user));
  }

  @Delete(':id')
  @Scopes('files:write')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a file: its bytes, its registry entry and its links' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorDto })
  async delete(
    @Param('id', ParseIdPipe) id: string,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
  ): Promise<void> {
    await this.files.delete(id, user, scene);
  }

  @Post(':id/links')
  // A link reads the file for whoever holds it: a write-only key must not hand out reads.
  @Scopes('files:read', 'files:write')
  @ApiOperation({
    summary: 'Make a signed link that downloads the file without a token until it expires',
    description:
      'The link starts with PUBLIC_BASE_URL when that is set; otherwise with the scheme and host ' +
      'the request was sent to, taken from X-Forwarded-Proto and X-Forwarded-Host only when ' +
      'TRUST_PROXY says a proxy is in front.',
  })
  @ApiCreatedResponse({ type: LinkDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  async createLink(
    @Param('id', ParseIdPipe) id: string,
    @Body() { expiresIn, disposition }: CreateLinkDto,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Req() req: Request,
  ): Promise<LinkDto> {
    await this.files.get(id, user);
    // Express reads X-Forwarded-Proto and -Host only from the TRUST_PROXY proxies in front.
    const origin = `${req.protocol}://${req.host}`;
    const link = this.links.create(id, expiresIn, disposition, origin, scene);
    return { url: link.url, expiresAt: link.expiresAt.toISOString() };
  }
}
