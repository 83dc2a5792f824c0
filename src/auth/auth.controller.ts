import { Body, Controller, Get, HttpCode, Ip, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { AuditScene } from '../audit/audit-scene.js';
import { RequestScene } from '../audit/request-scene.js';
import { ErrorDto } from '../common/error.dto.js';
import { quotaFieldsOf } from '../quotas/dto/quota.dto.js';
import { UserQuotas } from '../quotas/user-quotas.js';
import { CurrentUser, Public, Scopes } from './auth.decorators.js';
import { AuthService } from './auth.service.js';
import type { AuthenticatedUser } from './authenticated-user.js';
import { LoginDto } from './dto/login.dto.js';
import { MeDto } from './dto/me.dto.js';
import { TokenDto } from './dto/token.dto.js';
import { SCOPES } from './scopes.js';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly quotas: UserQuotas,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange a username and password for an access token' })
  @ApiOkResponse({ type: TokenDto })
  @ApiBadRequestResponse({ type: ErrorDto, description: 'Malformed body' })
  @ApiUnauthorizedResponse({ type: ErrorDto, description: 'Wrong username or password' })
  @ApiTooManyRequestsResponse({
    type: ErrorDto,
    description:
      'More than 10 failed logins for this username from this address in 15 minutes, or more ' +
      'than 60 login attempts from this address in a minute. `Retry-After` says when to retry.',
  })
  @ApiServiceUnavailableResponse({
    type: ErrorDto,
    description: 'Too many logins are being checked at once. `Retry-After` says when to retry.',
  })
  async login(
    @Body() { username, password }: LoginDto,
    @Ip() client: string,
    @RequestScene() scene: AuditScene,
  ): Promise<TokenDto> {
    const { token, expiresInSeconds } = await this.auth.login(username, password, client, scene);
    return { access_token: token, token_type: 'Bearer', expires_in: expiresInSeconds };
  }

  @Get('me')
  @Scopes()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'The user the credential belongs to, what it may do, and their usage and quota',
  })
  @ApiOkResponse({ type: MeDto })
  @ApiUnauthorizedResponse({ type: ErrorDto })
  async me(@CurrentUser() user: AuthenticatedUser): Promise<MeDto> {
    return {
      id: user.id,
      username: user.username,
      role: user.role,
      credential: user.credential,
      scopes: SCOPES.filter((scope) => user.scopes.has(scope)),
      ...quotaFieldsOf(await this.quotas.statusOf(user.id)),
    };
  }
}
