import { InvalidInputError } from './domain-errors.js';

/**
 * File lifetimes as files/ (an upload's `expiresIn`) and users/ (an account's default) both take
 * them; here because neither may depend on the other.
 */

/**
 * The largest lifetime that can be asked for at all, whatever the cap (about 3,170 years): an
 * expiry in epoch milliseconds stays a safe integer.
 */
export const LONGEST_FILE_LIFETIME_SECONDS = 100_000_000_000;

/**
 * Refuses a lifetime over MAX_FILE_TTL_SECONDS (`maxSeconds`, none when undefined) rather than
 * cut it short: nothing is silently changed.
 * @throws InvalidInputError naming `field` and the cap
 */
export function refuseOverCap(
  field: string,
  seconds: number | null | undefined,
  maxSeconds: number | undefined,
): void {
  if (seconds != null && maxSeconds !== undefined && seconds > maxSeconds) {
    throw new InvalidInputError(
      `${field} is over the longest lifetime a file may have, MAX_FILE_TTL_SECONDS (${maxSeconds} seconds)`,
    );
  }
}
