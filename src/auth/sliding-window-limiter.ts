import { Logger } from '@nestjs/common';
import type { Kysely, Transaction } from 'kysely';
import type { Tables } from '../database/tables.js';

/** At most `limit` events per key within any `windowMs`. */
export interface SlidingWindow {
  /** Keeps this limit's keys apart from other limits' in the shared table. */
  name: string;
  limit: number;
  windowMs: number;
}

/** An event to count under `key` against `window`. */
export interface Count {
  window: SlidingWindow;
  key: string;
}

/** An event `record` counted: what `takeBack` needs to forget it. */
export interface RecordedEvent {
  rowKey: string;
  time: number;
}

export type Recording =
  | { events: RecordedEvent[] }
  /** The first count whose key is full, and whole seconds until it may have another event. */
  | { refused: Count; retryAfterSeconds: number };

/** How often `record` prunes the rows that count nothing any more, on each instance. */
export const PRUNE_INTERVAL_MS = 60_000;

/**
 * Counts events per key in sliding windows, in the database, so that every instance on it shares
 * the counts: once `limit` events fall within `windowMs`, the key must wait until the oldest of
 * them leaves the window.
 *
 * One row per key holds the times of its events in the window (never more than `limit`), rather
 * than an approximation by two fixed windows: the wait a refused client is told is then exact
 * (the oldest counted event plus the window), as it was when the counts lived in memory, and an
 * event can be taken back by its time. Each key's row is locked, then read, by one statement
 * (`insert … on conflict do update … returning`, on SQLite ≥ 3.35 and PostgreSQL alike), so
 * concurrent events on one key, from any instance, are counted one after the other and never
 * pass the limit.
 *
 * Rows whose events have all left their window are deleted by `prune`, which `record` runs at
 * most every PRUNE_INTERVAL_MS on each instance.
 */
export class SlidingWindowLimiter {
  private readonly logger = new Logger(SlidingWindowLimiter.name);
  private lastPrune = 0;

  constructor(
    private readonly db: Kysely<Tables>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Records an event now under each count's key, unless one of the keys is full: then records
   * none, and answers the first full one (in the order given) and how long it must wait.
   */
  async record(counts: readonly Count[]): Promise<Recording> {
    const now = this.clock();
    const recording = await this.db.transaction().execute(async (trx) => {
      const rowKeys = counts.map(({ window, key }) => `${window.name} ${key}`);
      // Locked in one order, so that two transactions never each hold a key the other waits for.
      const recent = new Map<string, number[]>();
      for (const rowKey of [...rowKeys].sort()) {
        recent.set(rowKey, await lockAndRead(trx, rowKey, now));
      }
      for (const [i, count] of counts.entries()) {
        const { limit, windowMs } = count.window;
        const times = recent.get(rowKeys[i])!.filter((time) => time + windowMs > now);
        recent.set(rowKeys[i], times);
        if (times.length >= limit) {
          // The key is free once all but limit - 1 of its events have left the window.
          const freeAt = times[times.length - limit] + windowMs;
          return {
            refused: count,
            retryAfterSeconds: Math.max(1, Math.ceil((freeAt - now) / 1000)),
          };
        }
      }
      for (const [i, count] of counts.entries()) {
        const times = [...recent.get(rowKeys[i])!, now];
        recent.set(rowKeys[i], times);
        await trx
          .updateTable('loginAttempts')
          .set({ times: times.join(' '), expiresAt: now + count.window.windowMs })
          .where('key', '=', rowKeys[i])
          .execute();
      }
      return { events: rowKeys.map((rowKey) => ({ rowKey, time: now })) };
    });
    if (now - this.lastPrune >= PRUNE_INTERVAL_MS) {
      this.lastPrune = now;
      // Leftover rows only take space: a failure here is no reason to fail the caller.
      await this.prune().catch((error: unknown) =>
        this.logger.warn(`could not prune the login limits' expired rows: ${String(error)}`),
      );
    }
    return recording;
  }

  /**
   * Forgets an event `record` counted: it turned out not to count. Does nothing when it is gone
   * already (out of the window, or pruned).
   */
  async takeBack({ rowKey, time }: RecordedEvent): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const times = await lockAndRead(trx, rowKey, this.clock());
      const index = times.lastIndexOf(time);
      if (index === -1) return;
      times.splice(index, 1);
      await trx
        .updateTable('loginAttempts')
        .set({ times: times.join(' ') })
        .where('key', '=', rowKey)
        .execute();
    });
  }

  /** Deletes the rows whose events have all left their window; returns how many. */
  async prune(): Promise<number> {
    const { numDeletedRows } = await this.db
      .deleteFrom('loginAttempts')
      .where('expiresAt', '<=', this.clock())
      .executeTakeFirst();
    return Number(numDeletedRows);
  }
}

/**
 * The times recorded for `rowKey`, its row locked until `trx` ends: created empty when there is
 * none, so that a first event is locked too. The no-op update is what takes the lock.
 */
async function lockAndRead(
  trx: Transaction<Tables>,
  rowKey: string,
  now: number,
): Promise<number[]> {
  const { times } = await trx
    .insertInto('loginAttempts')
    .values({ key: rowKey, times: '', expiresAt: now })
    .onConflict((conflict) =>
      conflict.column('key').doUpdateSet((eb) => ({ times: eb.ref('loginAttempts.times') })),
    )
    .returning('times')
    .executeTakeFirstOrThrow();
  return times === '' ? [] : times.split(' ').map(Number);
}
