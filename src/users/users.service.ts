import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Kysely } from 'kysely';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { AuditScene } from '../audit/audit-scene.js';
import type { Role } from '../common/caller.js';
import { AUTH_STATE_TTL_MS } from '../common/cached-state.js';
import { ConflictError, NotFoundError } from '../common/domain-errors.js';
import { AppConfig } from '../config/app-config.js';
import { ExpiringCache } from '../common/expiring-cache.js';
import { isForeignKeyViolation } from '../database/database-errors.js';
import type { Tables } from '../database/tables.js';
import { PasswordHasher } from './password-hasher.js';
import type { AuthState, ExternalIdentity, User } from './user.js';
import { UserRepository } from './user-repository.js';
import { refuseOverCap } from '../common/file-lifetime.js';

export interface NewUser {
  username: string;
  password: string;
  role: Role;
}

export interface UserChanges {
  password?: string;
  role?: Role;
  /** Seconds; null takes the default away; undefined leaves it. */
  defaultFileTtlSeconds?: number | null;
}

/** What a provider says of a user it authenticated: the username to give them, and their role. */
export interface ExternalProfile {
  username: string;
  role: Role;
}

/** What `passwordHash` holds for a user who has no password (provisioned from a provider). */
const NO_PASSWORD = '';

/**
 * Users: accounts, credentials and the state that decides whether a token is still good; their
 * rows are `UserRepository`'s. Deleting a user who owns files is refused by the files table's
 * foreign key; `AccountDeletion` removes the files first when asked.
 */
@Injectable()
export class UsersService {
  private readonly authStates = new ExpiringCache<string, AuthState | null>(
    AUTH_STATE_TTL_MS,
    10_000,
  );
  /** The user id of each (issuer, subject) seen lately; their state is then `authStates`'. */
  private readonly externalUserIds = new ExpiringCache<string, string>(AUTH_STATE_TTL_MS, 10_000);

  private readonly maxFileTtlSeconds: number | undefined;

  constructor(
    private readonly repository: UserRepository,
    private readonly hasher: PasswordHasher,
    config: AppConfig,
    private readonly audit: AuditRecorder,
  ) {
    this.maxFileTtlSeconds = config.fileExpiry.maxTtlSeconds;
  }

  async create({ username, password, role }: NewUser, scene: AuditScene): Promise<User> {
    const now = Date.now();
    const row = {
      id: randomUUID(),
      username,
      passwordHash: await this.hasher.hash(password),
      role,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.repository.insert(row))) {
      throw new ConflictError(`username "${username}" is taken`);
    }
    this.audit.record(
      { action: 'user.created', details: { userId: row.id, username, role } },
      scene,
    );
    return { id: row.id, username, role, createdAt: new Date(now), defaultFileTtlSeconds: null };
  }

  list(): Promise<User[]> {
    return this.repository.list();
  }

  count(): Promise<number> {
    return this.repository.count();
  }

  async get(id: string): Promise<User> {
    const user = await this.repository.findById(id);
    if (!user) throw new NotFoundError('user not found');
    return user;
  }

  async findByUsername(username: string): Promise<User> {
    const user = await this.repository.findByUsername(username);
    if (!user) throw new NotFoundError(`no user "${username}"`);
    return user;
  }

  /** The user whose password this is, or null; as slow for an unknown name as for a wrong password. */
  async verifyCredentials(username: string, password: string): Promise<AuthState | null> {
    const row = await this.repository.findCredentials(username);
    // A user without a password costs the same time as an unknown one.
    const passwordHash = row?.passwordHash === NO_PASSWORD ? undefined : row?.passwordHash;
    const matches = await this.hasher.verify(passwordHash, password);
    if (!row || !matches) return null;
    return { id: row.id, username: row.username, role: row.role, tokenVersion: row.tokenVersion };
  }

  /**
   * A password or role change invalidates every token issued before it; a default file lifetime
   * affects the files uploaded after it. `madeBeside` names changes made with it by another
   * feature (a quota), so that the one `user.updated` event tells them all.
   * @throws InvalidInputError when `defaultFileTtlSeconds` is over MAX_FILE_TTL_SECONDS
   */
  async update(
    id: string,
    { password, role, defaultFileTtlSeconds }: UserChanges,
    scene: AuditScene,
    madeBeside: Record<string, unknown> = {},
  ): Promise<User> {
    // A default no upload could ask for is refused, rather than cut short at every upload.
    refuseOverCap('defaultFileTtlSeconds', defaultFileTtlSeconds, this.maxFileTtlSeconds);
    const passwordHash = password === undefined ? undefined : await this.hasher.hash(password);
    const user = await this.repository.serializable(async (trx) => {
      let current = await this.repository.findById(id, trx);
      if (!current) throw new NotFoundError('user not found');
      if (defaultFileTtlSeconds !== undefined) {
        await this.repository.setDefaultFileTtl(id, defaultFileTtlSeconds, trx);
        current = { ...current, defaultFileTtlSeconds };
      }
      const roleChanges = role !== undefined && role !== current.role;
      if (roleChanges && current.role === 'admin') await this.assertAnotherAdmin(trx, id, 'demote');
      if (!roleChanges && passwordHash === undefined) return current;
      const changed = await this.repository.updateCredentials(
        id,
        { ...(roleChanges && { role }), ...(passwordHash !== undefined && { passwordHash }) },
        trx,
      );
      return { ...current, role: changed.role };
    });
    this.authStates.evict(id);
    this.audit.record(
      {
        action: 'user.updated',
        details: {
          userId: id,
          passwordChanged: password !== undefined,
          role: user.role,
          ...(defaultFileTtlSeconds !== undefined && { defaultFileTtlSeconds }),
          ...madeBeside,
        },
      },
      scene,
    );
    return user;
  }

  /** The lifetime of a file of `id` whose upload names none; null: until it is deleted. */
  defaultFileTtlSeconds(id: string): Promise<number | null> {
    return this.repository.findDefaultFileTtl(id);
  }

  /**
   * Deletes the user. `beforeDelete` runs in the same transaction (the files feature removes the
   * user's registry entries there); without it, a user who owns files is refused.
   */
  async delete(
    id: string,
    scene: AuditScene,
    beforeDelete?: (trx: Kysely<Tables>) => Promise<void>,
  ): Promise<void> {
    try {
      const deleted = await this.repository.serializable(async (trx) => {
        const user = await this.repository.findById(id, trx);
        if (!user) throw new NotFoundError('user not found');
        if (user.role === 'admin') await this.assertAnotherAdmin(trx, id, 'delete');
        await beforeDelete?.(trx);
        await this.repository.delete(trx, id);
        return user;
      });
      this.audit.record(
        {
          action: 'user.deleted',
          details: { userId: id, username: deleted.username, role: deleted.role },
        },
        scene,
      );
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new ConflictError('the user still owns files: delete them, or pass deleteFiles=true');
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
      const found = await this.repository.findExternal(identity);
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
      if (await this.repository.insert(row)) {
        return { id: row.id, username, role: row.role, tokenVersion: 0 };
      }
      // The name is taken, or another instance provisioned this identity first: look again.
    }
    const found = await this.repository.findExternal(identity);
    if (found) return found;
    throw new ConflictError(`no free username for "${profile.username}"`);
  }

  /**
   * The provider decides a provisioned user's role: no last-admin check (a local admin, or the
   * provider itself, can always grant it again).
   */
  private async setProvidedRole(id: string, role: Role): Promise<AuthState> {
    const state = await this.repository.updateCredentials(id, { role });
    this.authStates.set(id, state);
    return state;
  }

  /** What authenticating a request needs to know of the user: null when it no longer exists. */
  async getAuthState(id: string): Promise<AuthState | null> {
    const cached = this.authStates.get(id);
    if (cached !== undefined) return cached;
    const state = (await this.repository.findAuthState(id)) ?? null;
    this.authStates.set(id, state);
    return state;
  }

  private async assertAnotherAdmin(
    trx: Kysely<Tables>,
    id: string,
    action: 'demote' | 'delete',
  ): Promise<void> {
    if (!(await this.repository.anotherAdminExists(trx, id))) {
      throw new ConflictError(`cannot ${action} the last admin`);
    }
  }
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
