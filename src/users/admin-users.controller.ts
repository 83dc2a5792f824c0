import { Body, Controller, Get, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { AdminApi } from '../auth/auth.decorators.js';
import type { AuditScene } from '../audit/audit-scene.js';
import { RequestScene } from '../audit/request-scene.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { changedQuotaOf } from '../quotas/quota.js';
import { UserQuotas } from '../quotas/user-quotas.js';
import { CreateUserDto } from './dto/create-user.dto.js';
import { UpdateUserDto } from './dto/update-user.dto.js';
import { UserDto, UserListDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

/** DELETE is `AdminAccountsController`'s: deleting a user may delete their files too. */
@AdminApi()
@Controller('admin/users')
export class AdminUsersController {
  constructor(
    private readonly users: UsersService,
    private readonly quotas: UserQuotas,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List every user' })
  @ApiOkResponse({ type: UserListDto })
  async list(): Promise<UserListDto> {
    const [users, quotas] = await Promise.all([this.users.list(), this.quotas.statusesOfAll()]);
    // A user created since the quotas were read has none of their own and holds nothing yet.
    return {
      items: users.map((user) => UserDto.from(user, quotas.get(user.id) ?? this.quotas.fresh())),
    };
  }

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The username is taken' })
  async create(@Body() dto: CreateUserDto, @RequestScene() scene: AuditScene): Promise<UserDto> {
    const user = await this.users.create(dto, scene);
    return UserDto.from(user, await this.quotas.statusOf(user.id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Change a user's password, role, quota or default file lifetime",
    description:
      'After a password or role change, tokens issued before it stop working: at once on this ' +
      'instance, within 30 seconds on the others. A quota (`quotaBytes`, `quotaFiles`: a whole ' +
      'number, `"unlimited"`, or null for the default) takes effect on the next upload, through ' +
      'every instance; one lower than what the user holds refuses new uploads and removes ' +
      'nothing. `defaultFileTtlSeconds` applies to the files uploaded after it.',
  })
  @ApiBadRequestResponse({
    type: ErrorDto,
    description: 'A field out of range; `defaultFileTtlSeconds` over MAX_FILE_TTL_SECONDS',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'Demoting the last admin' })
  async update(
    @Param('id', ParseIdPipe) id: string,
    @Body() dto: UpdateUserDto,
    @RequestScene() scene: AuditScene,
  ): Promise<UserDto> {
    const { quotaBytes, quotaFiles, ...credentials } = dto;
    const quotaChanges = { bytes: quotaBytes, files: quotaFiles };
    const user = await this.users.update(id, credentials, scene, changedQuotaOf(quotaChanges));
    const quota = await this.quotas.set(id, quotaChanges);
    return UserDto.from(user, quota);
  }
}
