import {
  Controller,
  Delete,
  Head,
  Headers,
  HttpCode,
  Options,
  Param,
  Patch,
  Post,
  Req,
  Res,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import type { AuditScene } from '../../audit/audit-scene.js';
import { RequestScene } from '../../audit/request-scene.js';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentUser, Public, Scopes } from '../../auth/auth.decorators.js';
import type { AuthenticatedUser } from '../../auth/authenticated-user.js';
import { UnsupportedTypeError } from '../../common/domain-errors.js';
import { ErrorDto } from '../../common/error.dto.js';
import { ParseIdPipe } from '../../common/parse-id.pipe.js';
import { bodyThrough, hasBody } from '../../common/request-body.js';
import { AppConfig } from '../../config/app-config.js';
import { ResumableUploads, type UploadStatus } from './resumable-uploads.service.js';
import { ClosesUnreadBody } from '../../common/closes-unread-body.interceptor.js';
import { TusVersionGuard } from './tus-protocol.js';
import {
  FILE_ID_HEADER,
  formatMetadata,
  parseByteCount,
  parseChecksum,
  parseMetadata,
  TUS_CONTENT_TYPE,
  TUS_EXTENSIONS,
  TUS_VERSION,
} from './tus-headers.js';

const TUS_RESUMABLE = ApiHeader({ name: 'Tus-Resumable', required: true, example: TUS_VERSION });

/**
 * Resumable uploads in the tus 1.0 protocol (https://tus.io/protocols/resumable-upload), for the
 * clients that speak it (tus-js-client, Uppy, TUSKit, tus-java-client). Only the protocol's
 * headers are read and written here; `ResumableUploads` does the work.
 */
@ApiTags('uploads (tus)')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorDto })
@Controller('files/uploads')
@UseGuards(TusVersionGuard)
@UseInterceptors(ClosesUnreadBody)
export class TusController {
  constructor(
    private readonly uploads: ResumableUploads,
    private readonly config: AppConfig,
  ) {}

  @Options()
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'What the server speaks: tus version, extensions, largest upload' })
  @ApiNoContentResponse({ description: 'Tus-Version, Tus-Extension, Tus-Max-Size' })
  options(@Res({ passthrough: true }) res: Response): void {
    res.set({
      'Tus-Version': TUS_VERSION,
      'Tus-Extension': TUS_EXTENSIONS.join(','),
      'Tus-Max-Size': String(this.config.uploads.maxBytes),
      'Tus-Checksum-Algorithm': 'sha256',
    });
  }

  @Post()
  @Scopes('files:write')
  @ApiOperation({
    summary: 'Create an upload (tus creation, creation-with-upload)',
    description:
      '`Upload-Length` (required) is the file size; `Upload-Metadata` may carry `filename`, ' +
      '`filetype` and `expiresIn`: the seconds the file lives once the upload completes (a ' +
      'whole number, at most MAX_FILE_TTL_SECONDS, else 400 before the upload is made; without ' +
      "it, the owner's default lifetime at completion). A body of type " +
      '`application/offset+octet-stream` is the first bytes. The ' +
      'upload is at `Location`; once its last byte is in, it is a stored file whose id is in the ' +
      `\`${FILE_ID_HEADER}\` header (the upload's id). Unfinished, it expires UPLOAD_EXPIRY_HOURS ` +
      'after its last progress.',
  })
  @TUS_RESUMABLE
  @ApiHeader({ name: 'Upload-Length', required: true })
  @ApiHeader({ name: 'Upload-Metadata', required: false, example: 'filename cmVwb3J0LnBkZg==' })
  @ApiCreatedResponse({ description: '`Location`, `Upload-Expires`, `Upload-Offset` with a body' })
  @ApiResponse({
    status: 400,
    type: ErrorDto,
    description:
      'A malformed header; an `expiresIn` in Upload-Metadata that is not a whole number of ' +
      'seconds, or over MAX_FILE_TTL_SECONDS',
  })
  @ApiPayloadTooLargeResponse({
    type: ErrorDto,
    description:
      'Upload-Length over MAX_UPLOAD_BYTES, or more than the quota of the uploader (bytes or ' +
      'files: an unfinished upload holds its length and one file until it completes or ' +
      'expires) allows, which the message names; nothing is kept',
  })
  async create(
    @Headers('upload-length') length: string | undefined,
    @Headers('upload-metadata') metadata: string | undefined,
    @Headers('upload-checksum') checksum: string | undefined,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    // Everything checked before the upload is made: a refusal leaves nothing behind.
    const withBytes = hasBody(req);
    if (withBytes) requireTusBody(req);
    const size = parseByteCount('Upload-Length', length);
    const first = { checksum: parseChecksum(checksum), declaredLength: contentLengthOf(req) };
    let status = await this.uploads.create(user, size, parseMetadata(metadata), scene);
    // Sent even if the first bytes fail: the client can go on from there.
    res.location(`/files/uploads/${status.id}`);
    if (withBytes)
      status = await this.uploads.append(status.id, user, scene, 0, bodyThrough(req, res), first);
    res.status(201);
    setStatusHeaders(res, status);
  }

  @Head(':id')
  @Scopes('files:write')
  @ApiOperation({ summary: "An upload's offset: where to go on from" })
  @TUS_RESUMABLE
  @ApiOkResponse({
    description: `\`Upload-Offset\`, \`Upload-Length\`, \`Upload-Metadata\`, \`Upload-Expires\`; \`${FILE_ID_HEADER}\` once complete`,
  })
  @ApiNotFoundResponse({ description: "No such upload, or another user's" })
  @ApiResponse({ status: 410, description: 'Expired unfinished' })
  async head(
    @Param('id', ParseIdPipe) id: string,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    const status = await this.uploads.status(id, user, scene);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Upload-Length', String(status.length));
    const metadata = formatMetadata({
      filename: status.filename,
      filetype: status.filetype,
      expiresIn: status.fileExpiresIn,
    });
    if (metadata !== undefined) res.setHeader('Upload-Metadata', metadata);
    setStatusHeaders(res, status);
  }

  @Patch(':id')
  @Scopes('files:write')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Append bytes at `Upload-Offset` (tus core, checksum)',
    description:
      'The body (`application/offset+octet-stream`) goes on at `Upload-Offset`, which must be ' +
      'where the upload stands. What arrives is kept even if the connection drops: ask with HEAD ' +
      'and go on. With `Upload-Checksum: sha256 <base64>`, the bytes are kept whole or not at ' +
      `all (460). The last append answers with \`${FILE_ID_HEADER}\`.`,
  })
  @TUS_RESUMABLE
  @ApiHeader({ name: 'Upload-Offset', required: true })
  @ApiHeader({ name: 'Upload-Checksum', required: false })
  @ApiNoContentResponse({
    description: `\`Upload-Offset\`, \`Upload-Expires\`, \`${FILE_ID_HEADER}\` once complete`,
  })
  @ApiConflictResponse({ type: ErrorDto, description: 'Upload-Offset is not where it stands' })
  @ApiResponse({ status: 423, type: ErrorDto, description: 'Another append is running' })
  @ApiResponse({ status: 460, type: ErrorDto, description: 'The checksum does not match' })
  @ApiPayloadTooLargeResponse({ type: ErrorDto, description: 'More bytes than Upload-Length' })
  async append(
    @Param('id', ParseIdPipe) id: string,
    @Headers('upload-offset') offset: string | undefined,
    @Headers('upload-checksum') checksum: string | undefined,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    requireTusBody(req);
    const status = await this.uploads.append(
      id,
      user,
      scene,
      parseByteCount('Upload-Offset', offset),
      bodyThrough(req, res),
      {
        checksum: parseChecksum(checksum),
        declaredLength: contentLengthOf(req),
      },
    );
    setStatusHeaders(res, status);
  }

  @Delete(':id')
  @Scopes('files:write')
  @HttpCode(204)
  @ApiOperation({
    summary: 'End an upload (tus termination)',
    description: 'An unfinished upload and its bytes go; a complete one leaves its file in place.',
  })
  @TUS_RESUMABLE
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorDto })
  async terminate(
    @Param('id', ParseIdPipe) id: string,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<void> {
    await this.uploads.terminate(id, user);
  }
}

function setStatusHeaders(res: Response, status: UploadStatus): void {
  res.setHeader('Upload-Offset', String(status.offset));
  res.setHeader('Upload-Expires', status.expiresAt.toUTCString());
  if (status.fileId !== undefined) res.setHeader(FILE_ID_HEADER, status.fileId);
}

function requireTusBody(req: Request): void {
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== TUS_CONTENT_TYPE) {
    throw new UnsupportedTypeError(`the body must be of type ${TUS_CONTENT_TYPE}`);
  }
}

function contentLengthOf(req: Request): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  return parseByteCount('Content-Length', header);
}
