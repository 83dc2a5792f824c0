import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { InvalidInputError } from '../common/domain-errors.js';
import { LONGEST_FILE_LIFETIME_SECONDS, refuseOverCap } from '../common/file-lifetime.js';

/**
 * An owner's default file lifetime, which is a setting of their account: implemented above
 * files/ and users/ (accounts/), which know nothing of each other.
 */
export abstract class OwnerFileDefaults {
  /** Seconds; null when the owner's files live until deleted (or the owner is gone). */
  abstract defaultFileTtlSeconds(ownerId: string): Promise<number | null>;
}

/**
 * `expiresIn` as a client sends it (a query parameter, an Upload-Metadata value): a positive
 * whole number of seconds, or undefined when absent.
 * @throws InvalidInputError when it is anything else
 */
export function parseLifetime(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const seconds = typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 1 && seconds <= LONGEST_FILE_LIFETIME_SECONDS)) {
    throw new InvalidInputError(
      `expiresIn must be given once, as a whole number of seconds from 1 to ${LONGEST_FILE_LIFETIME_SECONDS}`,
    );
  }
  return seconds;
}

/**
 * How long a file lives: the lifetime its upload asked for (`expiresIn`, at most
 * MAX_FILE_TTL_SECONDS), else its owner's default, else until it is deleted.
 */
@Injectable()
export class FileLifetimes {
  private readonly maxSeconds: number | undefined;

  constructor(
    config: AppConfig,
    private readonly defaults: OwnerFileDefaults,
  ) {
    this.maxSeconds = config.fileExpiry.maxTtlSeconds;
  }

  /**
   * Refuses a lifetime over the cap rather than cut it short: nothing is silently changed.
   * @throws InvalidInputError when `seconds` is over MAX_FILE_TTL_SECONDS
   */
  checkRequested(seconds: number | undefined): void {
    refuseOverCap('expiresIn', seconds, this.maxSeconds);
  }

  /**
   * When a file of `ownerId` that comes into being at `from` expires; null: never. `requested`
   * has passed `checkRequested`. A default set before the cap was lowered is cut to the cap: the
   * owner did not ask for it on this upload, the cap holds for every file.
   */
  async expiresAt(
    ownerId: string,
    requested: number | undefined,
    from: Date,
  ): Promise<Date | null> {
    let seconds = requested ?? (await this.defaults.defaultFileTtlSeconds(ownerId));
    if (seconds === null) return null;
    if (this.maxSeconds !== undefined) seconds = Math.min(seconds, this.maxSeconds);
    return new Date(from.getTime() + seconds * 1000);
  }
}
