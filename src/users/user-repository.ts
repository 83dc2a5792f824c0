import { Injectable } from '@nestjs/common';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Role } from '../common/caller.js';
import { Database } from '../database/database.js';
import { isUniqueViolation } from '../database/database-errors.js';
import type { Tables, UsersTable } from '../database/tables.js';
import type { AuthState, ExternalIdentity, User } from './user.js';

/** A row to insert: a local user (with a password hash), or a provisioned one (with an identity). */
export interface NewUserRow {
  id: string;
  username: string;
  /** Empty for a user provisioned from a provider. */
  passwordHash: string;
  role: Role;
  createdAt: number;
  updatedAt: number;
  externalIssuer?: string;
  externalSubject?: string;
}

/** What verifying a password needs: the user's state, and the hash to check against. */
export interface Credentials extends AuthState {
  passwordHash: string;
}

const AUTH_STATE_COLUMNS = ['id', 'username', 'role', 'tokenVersion'] as const;

/**
 * The users table's queries, and nothing else: no rules (`UsersService` has them). Methods that
 * take `trx` run inside the caller's transaction, so a rule checked there holds when they write.
 */
@Injectable()
export class UserRepository {
  constructor(private readonly db: Database) {}

  /** Runs `work` in a serializable transaction (`Database.serializable`). */
  serializable<T>(work: (trx: Transaction<Tables>) => Promise<T>): Promise<T> {
    return this.db.serializable(work);
  }

  /** false when a unique column refused the row: the username, or the external identity, is taken. */
  async insert(row: NewUserRow): Promise<boolean> {
    try {
      await this.db.insertInto('users').values(row).execute();
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Every user, by username. */
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

  async findById(id: string, trx: Kysely<Tables> = this.db): Promise<User | undefined> {
    const row = await trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && toUser(row);
  }

  async findCredentials(username: string): Promise<Credentials | undefined> {
    return this.db
      .selectFrom('users')
      .select([...AUTH_STATE_COLUMNS, 'passwordHash'])
      .where('username', '=', username)
      .executeTakeFirst();
  }

  async findAuthState(id: string): Promise<AuthState | undefined> {
    return this.db
      .selectFrom('users')
      .select(AUTH_STATE_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async findExternal(identity: ExternalIdentity): Promise<AuthState | undefined> {
    return this.db
      .selectFrom('users')
      .select(AUTH_STATE_COLUMNS)
      .where('externalIssuer', '=', identity.issuer)
      .where('externalSubject', '=', identity.subject)
      .executeTakeFirst();
  }

  /** Whether an admin other than `id` exists. */
  async anotherAdminExists(trx: Kysely<Tables>, id: string): Promise<boolean> {
    const other = await trx
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('id', '!=', id)
      .limit(1)
      .executeTakeFirst();
    return other !== undefined;
  }

  /**
   * Sets what is given and bumps the token version, so tokens issued before stop working. Returns
   * the user as changed; the user must exist.
   */
  async updateCredentials(
    id: string,
    changes: { role?: Role; passwordHash?: string },
    trx: Kysely<Tables> = this.db,
  ): Promise<AuthState> {
    return trx
      .updateTable('users')
      .set((eb) => ({
        ...changes,
        tokenVersion: eb('tokenVersion', '+', 1),
        updatedAt: Date.now(),
      }))
      .where('id', '=', id)
      .returning(AUTH_STATE_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  /** Sets the user's default file lifetime (null: none); no token is affected. */
  async setDefaultFileTtl(
    id: string,
    seconds: number | null,
    trx: Kysely<Tables> = this.db,
  ): Promise<void> {
    await trx
      .updateTable('users')
      .set({ defaultFileTtlSeconds: seconds, updatedAt: Date.now() })
      .where('id', '=', id)
      .execute();
  }

  /** The user's default file lifetime; null when they have none, or there is no such user. */
  async findDefaultFileTtl(id: string): Promise<number | null> {
    const row = await this.db
      .selectFrom('users')
      .select('defaultFileTtlSeconds')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.defaultFileTtlSeconds ?? null;
  }

  async delete(trx: Kysely<Tables>, id: string): Promise<void> {
    await trx.deleteFrom('users').where('id', '=', id).execute();
  }
}

function toUser(
  row: Pick<
    Selectable<UsersTable>,
    'id' | 'username' | 'role' | 'createdAt' | 'defaultFileTtlSeconds'
  >,
): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    createdAt: new Date(row.createdAt),
    defaultFileTtlSeconds: row.defaultFileTtlSeconds,
  };
}
