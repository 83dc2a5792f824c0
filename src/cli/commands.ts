import { once } from 'node:events';
import type { INestApplicationContext } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { isISO8601, isUUID, validate } from 'class-validator';
import { AccountDeletion } from '../accounts/account-deletion.js';
import { ApiKeysService } from '../api-keys/api-keys.service.js';
import { CLI_SCENE } from '../audit/audit-scene.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { AuditEventDto } from '../audit/dto/audit-event.dto.js';
import { CreateApiKeyDto } from '../api-keys/dto/create-api-key.dto.js';
import { AuthService } from '../auth/auth.service.js';
import { changedQuotaOf, formatBytes, type Quota } from '../quotas/quota.js';
import { UserQuotas } from '../quotas/user-quotas.js';
import { CreateUserDto } from '../users/dto/create-user.dto.js';
import { UpdateUserDto } from '../users/dto/update-user.dto.js';
import { UsersService } from '../users/users.service.js';
import { parseDurationSeconds } from './duration.js';
import { readPassword } from './read-password.js';

interface Invocation {
  /** Positional arguments after the command's name. */
  args: string[];
  options: {
    role?: string;
    ttl?: string;
    'delete-files'?: boolean;
    name?: string;
    scope?: string[];
    bytes?: string;
    files?: string;
    since?: string;
    until?: string;
  };
}

export interface Command {
  usage: string;
  run(app: INestApplicationContext, invocation: Invocation): Promise<void>;
}

/** A mistake of the operator's: printed as it is, with no stack trace. */
export class UsageError extends Error {}

export const COMMANDS: Record<string, Command> = {
  'users:create': {
    usage: 'users:create <username> [--role user|admin]   (password from stdin or a prompt)',
    async run(app, { args: [username], options }) {
      const password = await readPassword(`Password for ${username}: `);
      const dto = await validated(CreateUserDto, {
        username,
        password,
        role: options.role ?? 'user',
      });
      const user = await app.get(UsersService).create(dto, CLI_SCENE);
      console.log(`created ${user.role} ${user.username} (${user.id})`);
    },
  },
  'users:list': {
    usage: 'users:list',
    async run(app) {
      for (const user of await app.get(UsersService).list()) {
        console.log(
          [user.id, user.role.padEnd(5), user.createdAt.toISOString(), user.username].join('  '),
        );
      }
    },
  },
  'users:set-password': {
    usage: 'users:set-password <username>   (password from stdin or a prompt)',
    async run(app, { args: [username] }) {
      const users = app.get(UsersService);
      const user = await users.findByUsername(required(username, 'username'));
      const { password } = await validated(UpdateUserDto, {
        password: await readPassword(`New password for ${username}: `),
      });
      await users.update(user.id, { password }, CLI_SCENE);
      console.log(`changed the password of ${username}; tokens issued before now no longer work`);
    },
  },
  'users:delete': {
    usage: 'users:delete <username> [--delete-files]',
    async run(app, { args: [username], options }) {
      const user = await app.get(UsersService).findByUsername(required(username, 'username'));
      await app
        .get(AccountDeletion)
        .delete(user.id, { deleteFiles: options['delete-files'] === true }, CLI_SCENE);
      console.log(`deleted ${username}`);
    },
  },
  'users:set-quota': {
    usage:
      'users:set-quota <username> [--bytes <n>|unlimited|default] [--files <n>|unlimited|default]',
    async run(app, { args: [username], options }) {
      const users = app.get(UsersService);
      const user = await users.findByUsername(required(username, 'username'));
      if (options.bytes === undefined && options.files === undefined) {
        throw new UsageError('give --bytes, --files or both');
      }
      const { quotaBytes, quotaFiles } = await validated(UpdateUserDto, {
        quotaBytes: quotaSettingOf(options.bytes),
        quotaFiles: quotaSettingOf(options.files),
      });
      const changes = { bytes: quotaBytes, files: quotaFiles };
      // Through the users feature, as the admin API goes: the change is audited.
      await users.update(user.id, {}, CLI_SCENE, changedQuotaOf(changes));
      const { quota, usage } = await app.get(UserQuotas).set(user.id, changes);
      console.log(
        `quota of ${username}: ${describeQuota(quota)}; in use: ${formatBytes(usage.bytes)} ` +
          `in ${usage.files} files`,
      );
    },
  },
  'token:issue': {
    usage: 'token:issue <username> [--ttl 1h]   (prints the token alone, for scripts)',
    async run(app, { args: [username], options }) {
      const ttl = options.ttl === undefined ? undefined : parseDurationSeconds(options.ttl);
      if (options.ttl !== undefined && ttl === undefined) {
        throw new UsageError('--ttl must be a duration such as 900, 15m, 1h or 7d');
      }
      const user = await app.get(UsersService).findByUsername(required(username, 'username'));
      const state = await app.get(UsersService).getAuthState(user.id);
      const { token } = app.get(AuthService).issueToken(state!, ttl);
      console.log(token);
    },
  },
  'keys:create': {
    usage:
      'keys:create <username> --name <name> --scope <scope> [--scope <scope>…] [--ttl 90d]   ' +
      '(prints the key alone, shown this once; scopes: files:read, files:write, images, admin)',
    async run(app, { args: [username], options }) {
      const ttl = options.ttl === undefined ? undefined : parseDurationSeconds(options.ttl);
      if (options.ttl !== undefined && ttl === undefined) {
        throw new UsageError('--ttl must be a duration such as 900, 15m, 1h or 7d');
      }
      const owner = await app.get(UsersService).findByUsername(required(username, 'username'));
      const dto = await validated(CreateApiKeyDto, {
        name: options.name,
        scopes: options.scope ?? [],
        expiresIn: ttl,
        ownerId: owner.id,
      });
      const { secret } = await app.get(ApiKeysService).create('operator', {
        name: dto.name,
        scopes: dto.scopes,
        expiresInSeconds: dto.expiresIn,
        ownerId: dto.ownerId,
      });
      console.log(secret);
    },
  },
  'keys:list': {
    usage: 'keys:list [<username>]   (never the keys themselves)',
    async run(app, { args: [username] }) {
      const users = app.get(UsersService);
      const owner = username === undefined ? undefined : await users.findByUsername(username);
      const names = new Map((await users.list()).map((user) => [user.id, user.username]));
      for (const key of await app.get(ApiKeysService).list('operator', owner?.id)) {
        console.log(
          [
            key.id,
            names.get(key.ownerId) ?? key.ownerId,
            key.scopes.join(','),
            `expires ${key.expiresAt?.toISOString() ?? 'never'}`,
            `used ${key.lastUsedAt?.toISOString() ?? 'never'}`,
            key.name,
          ].join('  '),
        );
      }
    },
  },
  'audit:export': {
    usage:
      'audit:export --since <time|7d> [--until <time|1d>]   (JSON lines, oldest first; a ' +
      'duration counts back from now)',
    async run(app, { options }) {
      if (options.since === undefined) throw new UsageError('--since is missing');
      const since = pointInTime(options.since, '--since');
      const until = options.until === undefined ? undefined : pointInTime(options.until, '--until');
      // Read and written a page at a time: the trail may be far larger than memory.
      for await (const event of app.get(AuditTrail).export({ since, until })) {
        const line = `${JSON.stringify(AuditEventDto.from(event))}\n`;
        if (!process.stdout.write(line)) await once(process.stdout, 'drain');
      }
    },
  },
  'keys:revoke': {
    usage: 'keys:revoke <key-id>   (the id keys:list shows)',
    async run(app, { args: [id] }) {
      const keyId = uuid(required(id, 'key-id'));
      await app.get(ApiKeysService).revoke('operator', keyId);
      console.log(`revoked API key ${keyId}; running servers refuse it within 30 seconds`);
    },
  },
};

/** A limit as the operator types it: a whole number, `unlimited`, or `default` (null). */
function quotaSettingOf(value: string | undefined): unknown {
  if (value === undefined || value === 'unlimited') return value;
  if (value === 'default') return null;
  // Anything else stays a string, which the DTO refuses with its message.
  return /^\d{1,15}$/.test(value) ? Number(value) : value;
}

function describeQuota(quota: Quota): string {
  const bytes = quota.bytes === null ? 'unlimited bytes' : formatBytes(quota.bytes);
  const files = quota.files === null ? 'unlimited files' : `${quota.files} files`;
  return `${bytes}, ${files}`;
}

/**
 * `--since`/`--until`: an ISO 8601 time, or a duration before now (`7d`, `12h`, `90m`), as epoch
 * milliseconds.
 */
function pointInTime(value: string, option: string): number {
  // A bare number could be a year as well as seconds: a duration here names its unit.
  const seconds = /^\d+$/.test(value) ? undefined : parseDurationSeconds(value);
  if (seconds !== undefined) return Date.now() - seconds * 1000;
  if (isISO8601(value, { strict: true })) return Date.parse(value);
  throw new UsageError(`${option} must be an ISO 8601 time or a duration such as 7d, 12h or 90m`);
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`<${name}> is missing`);
  return value;
}

/** As the HTTP API takes ids (`ParseIdPipe`): a UUID, in lowercase. */
function uuid(value: string): string {
  if (!isUUID(value)) throw new UsageError('the id must be a UUID');
  return value.toLowerCase();
}

/** The same rules as the HTTP API, from the same DTO. */
async function validated<T extends object>(type: new () => T, plain: object): Promise<T> {
  const dto = plainToInstance(type, plain);
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  const messages = errors.flatMap((error) => Object.values(error.constraints ?? {}));
  if (messages.length > 0) throw new UsageError(messages.join('; '));
  return dto;
}
