import { Controller, Delete, HttpCode, Param, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOperation,
} from '@nestjs/swagger';
import type { AuditScene } from '../audit/audit-scene.js';
import { RequestScene } from '../audit/request-scene.js';
import { AdminApi } from '../auth/auth.decorators.js';
import { ErrorDto } from '../common/error.dto.js';
import { ParseIdPipe } from '../common/parse-id.pipe.js';
import { AccountDeletion } from './account-deletion.js';
import { DeleteAccountQueryDto } from './dto/delete-account-query.dto.js';

/**
 * The admin route that reaches past users/ into files/: the rest of /admin/users is
 * `AdminUsersController`'s.
 */
@AdminApi()
@Controller('admin/users')
export class AdminAccountsController {
  constructor(private readonly deletion: AccountDeletion) {}

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a user' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorDto })
  @ApiConflictResponse({
    type: ErrorDto,
    description: 'The last admin, or a user who owns files (unless deleteFiles=true)',
  })
  async delete(
    @Param('id', ParseIdPipe) id: string,
    @Query() { deleteFiles }: DeleteAccountQueryDto,
    @RequestScene() scene: AuditScene,
  ): Promise<void> {
    await this.deletion.delete(id, { deleteFiles }, scene);
  }
}
