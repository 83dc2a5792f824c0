import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { CurrentUser } from '../auth/auth.decorators.js';
import type { AuthenticatedUser } from '../auth/authenticated-user.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyDto, ApiKeyListDto, CreatedApiKeyDto } from './dto/api-key.dto.js';
import { CreateApiKeyDto } from './dto/create-api-key.dto.js';
import { ListApiKeysQueryDto } from './dto/list-api-keys-query.dto.js';

/**
 * No `@Scopes`: keys are managed with a password session or an OpenID Connect token, never with
 * a key, so a leaked key cannot mint others that outlive its revocation.
 */
@ApiTags('api keys')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorDto })
@Controller('auth/api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Make an API key (shown once)',
    description:
      "The key acts as its owner, within its scopes and its owner's current role, until it " +
      'expires or is revoked. Send it as `Authorization: Bearer <key>`.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiForbiddenResponse({
    type: ErrorDto,
    description:
      "Scopes beyond the owner's role; a user naming another owner; or called with an API key",
  })
  @ApiNotFoundResponse({ type: ErrorDto, description: 'No such owner' })
  async create(
    @Body() { name, scopes, expiresIn, ownerId }: CreateApiKeyDto,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<CreatedApiKeyDto> {
    const { apiKey, secret } = await this.apiKeys.create(user, {
      name,
      scopes,
      expiresInSeconds: expiresIn,
      ownerId,
    });
    return { ...ApiKeyDto.from(apiKey), key: secret };
  }

  @Get()
  @ApiOperation({
    summary: "List API keys, newest first (yours; everyone's for an admin)",
    description: 'Never the keys themselves.',
  })
  @ApiOkResponse({ type: ApiKeyListDto })
  @ApiForbiddenResponse({
    type: ErrorDto,
    description: "A user asking for another user's keys, or called with an API key",
  })
  async list(
    @Query() { ownerId }: ListApiKeysQueryDto,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<ApiKeyListDto> {
    return { items: (await this.apiKeys.list(user, ownerId)).map(ApiKeyDto.from) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke an API key',
    description: 'Refused at once on this instance, within 30 seconds on the others.',
  })
  @ApiNoContentResponse()
  @ApiForbiddenResponse({ type: ErrorDto, description: 'Called with an API key' })
  @ApiNotFoundResponse({ type: ErrorDto, description: "No such key, or another user's" })
  async revoke(
    @Param('id', ParseIdPipe) id: string,
    @CurrentUser() user: AuthenticatedUser,
  ): Promise<void> {
    await this.apiKeys.revoke(user, id);
  }
}
