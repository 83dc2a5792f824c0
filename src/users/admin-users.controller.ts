import { Body, Controller, Get, Param, Patch, Post } from '@nestjs/common';
import {
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
import { CreateUserDto } from './dto/create-user.dto.js';
import { UpdateUserDto } from './dto/update-user.dto.js';
import { UserDto, UserListDto } from './dto/user.dto.js';
import { UsersService } from './users.service.js';

/** DELETE is `AdminAccountsController`'s: deleting a user may delete their files too. */
@AdminApi()
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ApiOperation({ summary: 'List every user' })
  @ApiOkResponse({ type: UserListDto })
  async list(): Promise<UserListDto> {
    return { items: (await this.users.list()).map(UserDto.from) };
  }

  @Post()
  @ApiOperation({ summary: 'Create a user' })
  @ApiCreatedResponse({ type: UserDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'The username is taken' })
  async create(@Body() dto: CreateUserDto, @RequestScene() scene: AuditScene): Promise<UserDto> {
    return UserDto.from(await this.users.create(dto, scene));
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Change a user's password or role",
    description:
      'Tokens issued before the change stop working: at once on this instance, within 30 seconds ' +
      'on the others.',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({ type: ErrorDto, description: 'Demoting the last admin' })
  async update(
    @Param('id', ParseIdPipe) id: string,
    @Body() dto: UpdateUserDto,
    @RequestScene() scene: AuditScene,
  ): Promise<UserDto> {
    return UserDto.from(await this.users.update(id, dto, scene));
  }
}
