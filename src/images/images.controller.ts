import {
  applyDecorators,
  BadRequestException,
  Controller,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  StreamableFile,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuditScene } from '../audit/audit-scene.js';
import { RequestScene } from '../audit/request-scene.js';
import { CurrentUser, Scopes } from '../auth/auth.decorators.js';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { contentDisposition } from '../common/content-disposition.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { FileDto } from '../files/dto/file.dto.js';
import { blurredName } from './blurred-name.js';
import { BlurQueryDto } from './dto/blur-query.dto.js';
import { ImageAdmissionInterceptor } from './image-gate.js';
import { ImageProcessor } from './image-processor.js';
import { ImagesService } from './images.service.js';

/** What both blur routes may answer besides success. */
const BlurErrors = () =>
  applyDecorators(
    ApiBadRequestResponse({ type: ErrorDto, description: '`sigma` or `format` out of range' }),
    ApiUnauthorizedResponse({ type: ErrorDto }),
    ApiPayloadTooLargeResponse({ type: ErrorDto, description: 'More bytes than MAX_IMAGE_BYTES' }),
    ApiUnsupportedMediaTypeResponse({
      type: ErrorDto,
      description: 'The bytes are not JPEG, PNG, WebP, AVIF or GIF (SVG, PDF, HEIC, TIFF, …)',
    }),
    ApiUnprocessableEntityResponse({
      type: ErrorDto,
      description:
        'More pixels than MAX_IMAGE_PIXELS, undecodable, or slower than IMAGE_TIMEOUT_SECONDS',
    }),
    ApiServiceUnavailableResponse({
      type: ErrorDto,
      description:
        'The image workers are saturated past their queue: retry after `Retry-After` seconds',
    }),
  );

@ApiTags('images')
@ApiBearerAuth()
@Controller()
export class ImagesController {
  constructor(
    private readonly processor: ImageProcessor,
    private readonly images: ImagesService,
  ) {}

  @Post('images/blur')
  @Scopes('images')
  @HttpCode(200)
  @UseInterceptors(ImageAdmissionInterceptor, FileInterceptor('image'))
  @ApiOperation({ summary: 'Blur an uploaded image, in memory, and get the result back' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['image'],
      properties: { image: { type: 'string', format: 'binary' } },
    },
  })
  @ApiProduces('image/jpeg', 'image/png', 'image/webp', 'image/avif')
  @ApiOkResponse({ description: 'The blurred image', schema: { type: 'string', format: 'binary' } })
  @BlurErrors()
  async blur(
    @UploadedFile() image: Express.Multer.File | undefined,
    @Query() { sigma, format }: BlurQueryDto,
  ): Promise<StreamableFile> {
    if (!image) throw new BadRequestException('a multipart part named "image" is required');
    const blurred = await this.processor.blur(image.buffer, { sigma, format });
    return new StreamableFile(blurred.data, {
      type: blurred.contentType,
      length: blurred.data.length,
      disposition: contentDisposition('inline', blurredName(image.originalname, blurred.extension)),
    });
  }

  @Post('files/:id/blur')
  // It reads a stored file and stores a new one.
  @Scopes('images', 'files:read', 'files:write')
  @UseInterceptors(ImageAdmissionInterceptor)
  @ApiOperation({
    summary: 'Blur a stored image into a new stored file of yours',
    description:
      'The new file counts against your quota like an upload: past it, 413 with a message that ' +
      'names the quota, and nothing is kept.',
  })
  @ApiCreatedResponse({ type: FileDto, description: '`Location: /files/{id}` of the new file' })
  @ApiNotFoundResponse({ type: ErrorDto })
  @BlurErrors()
  async blurStored(
    @Param('id', ParseIdPipe) id: string,
    @Query() { sigma, format }: BlurQueryDto,
    @CurrentUser() user: AuthenticatedUser,
    @RequestScene() scene: AuditScene,
    @Res({ passthrough: true }) res: Response,
  ): Promise<FileDto> {
    const file = await this.images.blurStoredFile(user, id, { sigma, format }, scene);
    res.location(`/files/${file.id}`);
    return FileDto.from(file);
  }
}
