import { createHash, randomUUID } from 'node:crypto';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { Kysely, Selectable } from 'kysely';
import { AUTH_STATE_TTL_MS } from '../common/cached-state.js';
import { ExpiringCache } from '../common/expiring-cache.js';
import { Database } from '../database/database.js';
import { isForeignKeyViolation, isUniqueViolation } from '../database/database-errors.js';
import type { Tables, UsersTable } from '../database/tables.js';
import { PasswordHasher } from './password-hasher.js';
import type { Role } from '../common/caller.js';
import type { AuthState, ExternalIdentity, User } from './user.js';

export interface NewUser {
  username: string;
  password: string;
  role: Role;
}

export interface UserChanges {
  password?: string;
  role?: Role;
}

/** What a provider says of a user it authenticated: the username to give them, and their role. */
export interface ExternalProfile {
  username: string;
  role: Role;
}

/** What `passwordHash` holds for a user who has no password (provisioned from a provider). */
const NO_PASSWORD = '';

/**
 * The users table: accounts, credentials and the state that decides whether a token is still
 * good. Deleting a user who owns files is refused by the files table's foreign key; the files
 * feature removes them first when asked (`FilesService.deleteAllOwnedBy`).
 */
@Injectable()
export class UsersService {
  private readonly authStates = new ExpiringCache<string, AuthState | null>(
    AUTH_STATE_TTL_MS,
    10_000,
  );
  /** The user id of each (issuer, subject) seen lately; their state is then `authStates`'. */
  private readonly externalUserIds = new ExpiringCache<string, string>(AUTH_STATE_TTL_MS, 10_000);

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
    return toUser(row);
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
    // A user without a password costs the same time as an unknown one.
    const passwordHash = row?.passwordHash === NO_PASSWORD ? undefined : row?.passwordHash;
    const matches = await this.hasher.verify(passwordHash, password);
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

  /**
   * The user an OpenID Connect provider knows as `identity`, created on first sight (with no
   * password) under `profile.username`, or that name with a suffix when it is taken: never
   * merged with a local user of the same name. The role follows the provider's on every call.
   */
  async provisionExternal(
    identity: ExternalIdentity,
    profile: ExternalProfile,
  ): Promise<AuthState> {
    const identityKey = `${identity.issuer}\n${identity.subject}`;
    const knownId = this.externalUserIds.get(identityKey);
    let state = knownId === undefined ? null : await this.getAuthState(knownId);
    if (!state) {
      state = await this.findOrCreateExternal(identity, profile);
      this.externalUserIds.set(identityKey, state.id);
      this.authStates.set(state.id, state);
    }
    if (state.role !== profile.role) state = await this.setProvidedRole(state.id, profile.role);
    return state;
  }

  private async findOrCreateExternal(
    identity: ExternalIdentity,
    profile: ExternalProfile,
  ): Promise<AuthState> {
    for (const username of usernameCandidates(profile.username, identity)) {
      const found = await this.findExternal(identity);
      if (found) return found;
      const now = Date.now();
      const row = {
        id: randomUUID(),
        username,
        passwordHash: NO_PASSWORD,
        role: profile.role,
        createdAt: now,
        updatedAt: now,
        externalIssuer: identity.issuer,
        externalSubject: identity.subject,
      };
      try {
        await this.db.insertInto('users').values(row).execute();
        return { id: row.id, username, role: row.role, tokenVersion: 0 };
      } catch (error) {
        // The name is taken, or another instance provisioned this identity first: look again.
        if (!isUniqueViolation(error)) throw error;
      }
    }
    const found = await this.findExternal(identity);
    if (found) return found;
    throw new ConflictException(`no free username for "${profile.username}"`);
  }

  private async findExternal(identity: ExternalIdentity): Promise<AuthState | undefined> {
    return this.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'tokenVersion'])
      .where('externalIssuer', '=', identity.issuer)
      .where('externalSubject', '=', identity.subject)
      .executeTakeFirst();
  }

  /**
   * The provider decides a provisioned user's role: no last-admin check (a local admin, or the
   * provider itself, can always grant it again).
   */
  private async setProvidedRole(id: string, role: Role): Promise<AuthState> {
    const state = await this.db
      .updateTable('users')
      .set((eb) => ({ role, tokenVersion: eb('tokenVersion', '+', 1), updatedAt: Date.now() }))
      .where('id', '=', id)
      .returning(['id', 'username', 'role', 'tokenVersion'])
      .executeTakeFirstOrThrow();
    this.authStates.set(id, state);
    return state;
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

/**
 * Usernames to try for a provisioned user, in order: the one the provider gave, then with a
 * suffix of its identity's hash (the same one on every instance, so two racing agree).
 */
function usernameCandidates(username: string, identity: ExternalIdentity): string[] {
  const hash = createHash('sha256').update(`${identity.issuer}\n${identity.subject}`).digest('hex');
  return [
    username,
    `${username.slice(0, 55)}-${hash.slice(0, 8)}`,
    `${username.slice(0, 47)}-${hash.slice(0, 16)}`,
  ];
}

function toUser(row: Pick<Selectable<UsersTable>, 'id' | 'username' | 'role' | 'createdAt'>): User {
  return { id: row.id, username: row.username, role: row.role, createdAt: new Date(row.createdAt) };
}
