import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Database } from './database.js';
import { isUniqueViolation } from './database-errors.js';

/**
 * Named leases in the shared database: work that one instance at a time may do (the sweep). A
 * lease is held until it expires or is released; a holder that died loses it when it expires.
 */
@Injectable()
export class Leases {
  /** This process, as a holder: instances never share one. */
  readonly holder = randomUUID();

  constructor(private readonly db: Database) {}

  /**
   * Takes (or renews) lease `name` for `ttlMs` when it is free, expired or already this
   * process's. One statement each way, so two instances racing cannot both win.
   */
  async acquire(name: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const expiresAt = now + ttlMs;
    const taken = await this.db
      .updateTable('leases')
      .set({ holder: this.holder, expiresAt })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('expiresAt', '<=', now), eb('holder', '=', this.holder)]))
      .executeTakeFirst();
    if (Number(taken.numUpdatedRows) > 0) return true;
    try {
      await this.db.insertInto('leases').values({ name, holder: this.holder, expiresAt }).execute();
      return true;
    } catch (error) {
      // Someone holds it (the row exists, unexpired): not ours this time.
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Gives lease `name` up, if this process holds it. */
  async release(name: string): Promise<void> {
    await this.db
      .updateTable('leases')
      .set({ expiresAt: 0 })
      .where('name', '=', name)
      .where('holder', '=', this.holder)
      .execute();
  }
}
