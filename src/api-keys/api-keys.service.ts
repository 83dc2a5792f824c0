import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import type { Selectable } from 'kysely';
import { isScope, scopesOfRole, type Scope } from '../auth/scopes.js';
import { ForbiddenError, NotFoundError } from '../common/domain-errors.js';
import { ExpiringCache } from '../common/expiring-cache.js';
import { Database } from '../database/database.js';
import type { ApiKeysTable } from '../database/tables.js';
import type { Caller } from '../common/caller.js';
import { AUTH_STATE_TTL_MS } from '../common/cached-state.js';
import { UsersService } from '../users/users.service.js';
import { type ApiKey, generateApiKey, hashApiKey } from './api-key.js';

/** Who asks: a user, or the operator at the CLI, who may do anything. */
export type Actor = Caller | 'operator';

export interface NewApiKey {
  name: string;
  scopes: Scope[];
  /** Seconds until it expires; never when undefined. */
  expiresInSeconds?: number;
  /** The user it belongs to; the actor when undefined. */
  ownerId?: string;
}

/** What a request authenticated by a key may do, before its owner's current role is applied. */
export interface VerifiedApiKey {
  id: string;
  ownerId: string;
  scopes: ReadonlySet<Scope>;
}

/** A key as it is remembered between requests. */
interface KnownKey extends VerifiedApiKey {
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** lastUsedAt is written at most this often per key and instance: a key's use is not a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API keys: long-lived credentials for scripts and machines, each with a name, scopes, an optional
 * expiry and a last-used time. A user manages their own, an admin everyone's. A revoked key is
 * refused at once on the instance that revoked it and within AUTH_STATE_TTL_MS on the others,
 * as a revoked token is.
 */
@Injectable()
export class ApiKeysService {
  private readonly logger = new Logger(ApiKeysService.name);
  /** By key hash. */
  private readonly known = new ExpiringCache<string, KnownKey>(AUTH_STATE_TTL_MS, 10_000);

  constructor(
    private readonly db: Database,
    private readonly users: UsersService,
  ) {}

  /**
   * Makes a key; returns it with its secret, which is never available again.
   * @throws ForbiddenError for a user making a key for someone else, or scopes beyond the
   * owner's role
   * @throws NotFoundError when the owner does not exist
   */
  async create(actor: Actor, fields: NewApiKey): Promise<{ apiKey: ApiKey; secret: string }> {
    const ownerId = fields.ownerId ?? (actor === 'operator' ? undefined : actor.id);
    if (ownerId === undefined) throw new Error('an operator must name the owner of a key');
    if (actor !== 'operator' && actor.role !== 'admin' && ownerId !== actor.id) {
      throw new ForbiddenError('only an admin may make a key for another user');
    }
    const owner = await this.users.get(ownerId);
    const allowed = scopesOfRole(owner.role);
    const beyond = fields.scopes.filter((scope) => !allowed.has(scope));
    if (beyond.length > 0) {
      throw new ForbiddenError(
        `a key cannot hold more than its owner's role (${owner.role}) allows: not ${beyond.join(', ')}`,
      );
    }
    const secret = generateApiKey();
    const now = Date.now();
    const row = {
      id: randomUUID(),
      ownerId,
      name: fields.name,
      keyHash: hashApiKey(secret)!,
      scopes: [...new Set(fields.scopes)].join(' '),
      createdAt: now,
      expiresAt:
        fields.expiresInSeconds === undefined ? null : now + fields.expiresInSeconds * 1000,
      lastUsedAt: null,
    };
    await this.db.insertInto('apiKeys').values(row).execute();
    return { apiKey: toApiKey(row), secret };
  }

  /** Newest first: a user's own keys; for an admin or the operator, everyone's, or `ownerId`'s. */
  async list(actor: Actor, ownerId?: string): Promise<ApiKey[]> {
    const only = this.ownerVisibleTo(actor, ownerId);
    let query = this.db
      .selectFrom('apiKeys')
      .selectAll()
      .orderBy('createdAt', 'desc')
      .orderBy('id', 'desc');
    if (only !== undefined) query = query.where('ownerId', '=', only);
    return (await query.execute()).map(toApiKey);
  }

  /**
   * Deletes a key: it stops working at once here, within AUTH_STATE_TTL_MS elsewhere.
   * @throws NotFoundError when there is no such key, or it is another user's
   */
  async revoke(actor: Actor, id: string): Promise<void> {
    let query = this.db.deleteFrom('apiKeys').where('id', '=', id);
    if (actor !== 'operator' && actor.role !== 'admin')
      query = query.where('ownerId', '=', actor.id);
    const deleted = await query.returning('keyHash').executeTakeFirst();
    if (!deleted) throw new NotFoundError('API key not found');
    this.known.evict(deleted.keyHash);
  }

  /**
   * The key `secret` names, when it exists and has not expired; null otherwise. Records its use
   * (at most once a minute), without failing the request when that write fails.
   */
  async verify(secret: string): Promise<VerifiedApiKey | null> {
    const hash = hashApiKey(secret);
    if (hash === null) return null;
    let key = this.known.get(hash);
    if (key === undefined) {
      const row = await this.db
        .selectFrom('apiKeys')
        .selectAll()
        .where('keyHash', '=', hash)
        .executeTakeFirst();
      if (!row) return null;
      key = {
        id: row.id,
        ownerId: row.ownerId,
        scopes: new Set(parseScopes(row.scopes)),
        expiresAt: row.expiresAt,
        lastUsedAt: row.lastUsedAt,
      };
      this.known.set(hash, key);
    }
    const now = Date.now();
    if (key.expiresAt !== null && key.expiresAt <= now) return null;
    if (key.lastUsedAt === null || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      // Set before the write, so that the requests arriving meanwhile do not write too.
      key.lastUsedAt = now;
      await this.db
        .updateTable('apiKeys')
        .set({ lastUsedAt: now })
        .where('id', '=', key.id)
        .execute()
        .catch((error: unknown) =>
          this.logger.warn(`could not record the use of API key ${key.id}: ${String(error)}`),
        );
    }
    return key;
  }

  /** The owner whose keys `actor` may see when asking for `ownerId`'s; undefined: everyone's. */
  private ownerVisibleTo(actor: Actor, ownerId: string | undefined): string | undefined {
    if (actor === 'operator' || actor.role === 'admin') return ownerId;
    if (ownerId !== undefined && ownerId !== actor.id) {
      throw new ForbiddenError("only an admin may see another user's keys");
    }
    return actor.id;
  }
}

function parseScopes(text: string): Scope[] {
  return text.split(' ').filter(isScope);
}

function toApiKey(row: Selectable<ApiKeysTable>): ApiKey {
  return {
    id: row.id,
    ownerId: row.ownerId,
    name: row.name,
    scopes: parseScopes(row.scopes),
    createdAt: new Date(row.createdAt),
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt),
    lastUsedAt: row.lastUsedAt === null ? null : new Date(row.lastUsedAt),
  };
}
