import { applyDecorators, Controller, Get, Head, Param, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiGoneResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPartialContentResponse,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentUser, Public, Scopes } from '../auth/auth.decorators.js';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { DISPOSITIONS, type Disposition } from '../common/content-disposition.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { FileResponder } from './download/file-responder.js';
import { DispositionQueryPipe, SignedLinkQueryPipe } from './download/download-query.pipes.js';
import { FilesService } from './files.service.js';
import { SignedLinks, type SignedLinkQuery } from './links/signed-links.js';

const binary = { schema: { type: 'string', format: 'binary' } };

const cacheControlHeader = {
  'Cache-Control': {
    description:
      '`private, max-age=31536000, immutable`: the bytes under a file id never change. Through ' +
      'a signed link, `max-age` is the seconds left until the link expires; for a file with an ' +
      '`expiresAt`, at most the seconds left until it expires.',
    schema: { type: 'string' },
  },
};

/** Documentation every download route shares: they all answer through `FileResponder`. */
const DownloadResponses = () =>
  applyDecorators(
    ApiProduces('application/octet-stream'),
    ApiHeader({
      name: 'Range',
      required: false,
      description: 'One byte range, e.g. `bytes=0-1023`',
    }),
    ApiHeader({ name: 'If-None-Match', required: false }),
    ApiHeader({ name: 'If-Range', required: false }),
    ApiOkResponse({ description: 'The whole file', ...binary, headers: cacheControlHeader }),
    ApiPartialContentResponse({
      description: 'The requested range (`Content-Range`)',
      ...binary,
      headers: cacheControlHeader,
    }),
    ApiResponse({ status: 304, description: 'Not modified (If-None-Match matched the ETag)' }),
    ApiResponse({
      status: 302,
      description:
        'With DOWNLOAD_REDIRECT=presigned (S3 only): `Location` is a URL of the store, valid for ' +
        'DOWNLOAD_REDIRECT_TTL_SECONDS, that answers with the bytes as an attachment (never inline)',
    }),
    ApiResponse({
      status: 416,
      type: ErrorDto,
      description: 'Range not satisfiable (`Content-Range: bytes */size`)',
    }),
    ApiNotFoundResponse({ type: ErrorDto }),
    ApiTooManyRequestsResponse({
      type: ErrorDto,
      description:
        'As many downloads in progress as DOWNLOADS_PER_USER (per user) or DOWNLOADS_PER_LINK ' +
        '(per signed link) allow: retry after `Retry-After` seconds',
    }),
  );

/** The query of an authenticated download (checked by `DispositionQueryPipe`). */
const DispositionQuery = () =>
  ApiQuery({
    name: 'disposition',
    required: false,
    enum: DISPOSITIONS,
    description:
      'Default attachment; inline is honoured for raster images, PDF, plain text, audio and video only',
  });

/** The query of a signed link, as `POST /files/{id}/links` made it. */
const SignedLinkQueries = () =>
  applyDecorators(
    ApiQuery({ name: 'expires', description: 'Expiry, in seconds since the epoch' }),
    ApiQuery({ name: 'disposition', enum: DISPOSITIONS }),
    ApiQuery({
      name: 'kid',
      required: false,
      description:
        'Id of the key that signed the link (absent from links made before keys were rotated)',
    }),
    ApiQuery({ name: 'signature' }),
  );

/**
 * The routes that send a file's bytes, the service's hot path: Express tries them before any
 * other route, and before middleware that Nest mounts for chosen routes (see `tryFirst` in
 * `createApp`): such middleware must not be meant for them.
 */
export const DOWNLOAD_ROUTES = ['/files/:id/download', '/files/:id/signed-download'];

/**
 * HEAD handlers come first: Express would otherwise answer HEAD with the GET route. Every handler
 * answers through `FileResponder`, which writes the response itself (`@Res()`).
 */
@ApiTags('files')
@Controller('files')
export class DownloadsController {
  constructor(
    private readonly files: FilesService,
    private readonly links: SignedLinks,
    private readonly responder: FileResponder,
  ) {}

  @Head(':id/download')
  @Scopes('files:read')
  @ApiBearerAuth()
  @DispositionQuery()
  @ApiOperation({ summary: "A download's headers, without the bytes" })
  @DownloadResponses()
  @ApiUnauthorizedResponse({ type: ErrorDto })
  head(
    @Param('id', ParseIdPipe) id: string,
    @Query(DispositionQueryPipe) disposition: Disposition,
    @CurrentUser() user: AuthenticatedUser,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.download(id, disposition, user, req, res);
  }

  @Get(':id/download')
  @Scopes('files:read')
  @ApiBearerAuth()
  @DispositionQuery()
  @ApiOperation({ summary: 'Download a file (ranges, conditional requests)' })
  @DownloadResponses()
  @ApiUnauthorizedResponse({ type: ErrorDto })
  async download(
    @Param('id', ParseIdPipe) id: string,
    @Query(DispositionQueryPipe) disposition: Disposition,
    @CurrentUser() user: AuthenticatedUser,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const file = await this.files.get(id, user);
    return this.responder.respond(file, disposition, 'user', user.id, req, res);
  }

  @Public()
  @Head(':id/signed-download')
  @SignedLinkQueries()
  @ApiOperation({ summary: "A signed link's headers, without the bytes" })
  @DownloadResponses()
  @ApiForbiddenResponse({ type: ErrorDto, description: 'The link was altered' })
  @ApiGoneResponse({ type: ErrorDto, description: 'The link has expired' })
  headSigned(
    @Param('id', ParseIdPipe) id: string,
    @Query(SignedLinkQueryPipe) query: SignedLinkQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    return this.downloadSigned(id, query, req, res);
  }

  @Public()
  @Get(':id/signed-download')
  @SignedLinkQueries()
  @ApiOperation({ summary: 'Download a file through a signed link (no Authorization header)' })
  @DownloadResponses()
  @ApiForbiddenResponse({ type: ErrorDto, description: 'The link was altered' })
  @ApiGoneResponse({ type: ErrorDto, description: 'The link has expired' })
  async downloadSigned(
    @Param('id', ParseIdPipe) id: string,
    @Query(SignedLinkQueryPipe) query: SignedLinkQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const disposition = this.links.verify(id, query);
    const file = await this.files.getForLink(id);
    // A valid signature names one link: the file, its expiry and its disposition.
    const expiresAt = new Date(Number(query.expires) * 1000);
    return this.responder.respond(file, disposition, 'link', query.signature!, req, res, expiresAt);
  }
}
