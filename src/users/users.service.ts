import { randomUUID } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { Database } from '../database/database.js';
import { isForeignKeyViolation, isUniqueViolation } from '../database/database-errors.js';
import type { Tables, UsersTable } from '../database/tables.js';
import { AuthStateCache } from './auth-state-cache.js';
import { PasswordHasher } from './password-hasher.js';
import type { AuthState, Role, User } from './user.js';

/** How long an instance may act on a user's state before reading it again. */
export const AUTH_STATE_TTL_MS = 30_000;

export interface NewUser {
  username: string;
  password: string;
  role: Role;
}

export interface UserChanges {
  password?: string;
  role?: Role;
}

/**
 * The users table: accounts, credentials and the state that decides whether a token is still
 * good. Deleting a user who owns files is refused by the files table's foreign key; the files
 * feature removes them first when asked (`FilesService.deleteAllOwnedBy`).
 */
@Injectable()
export class UsersService {
  private readonly authStates = new AuthStateCache(AUTH_STATE_TTL_MS, 10_000);

  constructor(
    private readonly db: Database,
    private readonly hasher: PasswordHasher,
  ) {}

  async create({ username, password, role }: NewUser): Promise<User> {
    const now = Date.now();
    const row = {
      id: randomUUID(),
      username,
      passwordHash: await this.hasher.hash(password),
      role,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException(`username "${username}" is taken`);
      throw error;
    }
    return toUser({ ...row, tokenVersion: 0 });
  }

  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(toUser);
  }

  async count(): Promise<number> {
    const { count } = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(count);
  }

  async get(id: string): Promise<User> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw new NotFoundException('user not found');
    return toUser(row);
  }

  async findByUsername(username: string): Promise<User> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    if (!row) throw new NotFoundException(`no user "${username}"`);
    return toUser(row);
  }

  /** The user whose password this is, or null; as slow for an unknown name as for a wrong password. */
  async verifyCredentials(username: string, password: string): Promise<AuthState | null> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'tokenVersion', 'passwordHash'])
      .where('username', '=', username)
      .executeTakeFirst();
    const matches = await this.hasher.verify(row?.passwordHash, password);
    if (!row || !matches) return null;
    return { id: row.id, username: row.username, role: row.role, tokenVersion: row.tokenVersion };
  }

  /** A password or role change invalidates every token issued before it. */
  async update(id: string, { password, role }: UserChanges): Promise<User> {
    const passwordHash = password === undefined ? undefined : await this.hasher.hash(password);
    const user = await this.db.serializable(async (trx) => {
      const current = await trx
        .selectFrom('users')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!current) throw new NotFoundException('user not found');
      const roleChanges = role !== undefined && role !== current.role;
      if (roleChanges && current.role === 'admin') await assertAnotherAdmin(trx, id, 'demote');
      if (!roleChanges && passwordHash === undefined) return current;
      return trx
        .updateTable('users')
        .set((eb) => ({
          ...(roleChanges && { role }),
          ...(passwordHash !== undefined && { passwordHash }),
          tokenVersion: eb('tokenVersion', '+', 1),
          updatedAt: Date.now(),
        }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    this.authStates.evict(id);
    return toUser(user);
  }

  /**
   * Deletes the user. `beforeDelete` runs in the same transaction (the files feature removes the
   * user's registry entries there); without it, a user who owns files is refused.
   */
  async delete(id: string, beforeDelete?: (trx: Kysely<Tables>) => Promise<void>): Promise<void> {
    try {
      await this.db.serializable(async (trx) => {
        const user = await trx
          .selectFrom('users')
          .select('role')
          .where('id', '=', id)
          .executeTakeFirst();
        if (!user) throw new NotFoundException('user not found');
        if (user.role === 'admin') await assertAnotherAdmin(trx, id, 'delete');
        await beforeDelete?.(trx);
        await trx.deleteFrom('users').where('id', '=', id).execute();
      });
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new ConflictException(
          'the user still owns files: delete them, or pass deleteFiles=true',
        );
      }
      throw error;
    } finally {
      this.authStates.evict(id);
    }
  }

  /** What authenticating a request needs to know of the user: null when it no longer exists. */
  async getAuthState(id: string): Promise<AuthState | null> {
    const cached = this.authStates.get(id);
    if (cached !== undefined) return cached;
    const state =
      (await this.db
        .selectFrom('users')
        .select(['id', 'username', 'role', 'tokenVersion'])
        .where('id', '=', id)
        .executeTakeFirst()) ?? null;
    this.authStates.set(id, state);
    return state;
  }
}

async function assertAnotherAdmin(
  trx: Kysely<Tables>,
  id: string,
  action: 'demote' | 'delete',
): Promise<void> {
  const other = await trx
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('id', '!=', id)
    .limit(1)
    .executeTakeFirst();
  if (!other) throw new ConflictException(`cannot ${action} the last admin`);
}

function toUser(row: Selectable<UsersTable>): User {
  return { id: row.id, username: row.username, role: row.role, createdAt: new Date(row.createdAt) };
}
