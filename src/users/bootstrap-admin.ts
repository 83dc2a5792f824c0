import { SYSTEM_SCENE } from '../audit/audit-scene.js';
import { randomBytes } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { UsersService } from './users.service.js';

/** On the first start (no users at all), creates the admin account from ADMIN_USERNAME/PASSWORD. */
@Injectable()
export class BootstrapAdmin implements OnApplicationBootstrap {
  private readonly logger = new Logger(BootstrapAdmin.name);

  constructor(
    private readonly users: UsersService,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.users.count()) > 0) return;
    const { username } = this.config.admin;
    const password = this.config.admin.password ?? randomBytes(18).toString('base64url');
    try {
      await this.users.create({ username, password, role: 'admin' }, SYSTEM_SCENE);
    } catch (error) {
      // Another instance sharing the database created it first.
      if (await this.users.findByUsername(username).catch(() => null)) return;
      throw error;
    }
    if (this.config.admin.password) {
      this.logger.log(
        `created the first admin "${username}" with the password from ADMIN_PASSWORD`,
      );
    } else {
      this.logger.warn(
        `created the first admin "${username}" with the generated password ${password} ` +
          '(shown this once: change it with PATCH /admin/users/{id} or `npm run cli -- users:set-password`)',
      );
    }
  }
}
