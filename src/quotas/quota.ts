/** What a user may hold: null is no limit. */
export interface Quota {
  bytes: number | null;
  files: number | null;
}

/** What a user holds: their stored files, and what their uploads in progress have reserved. */
export interface Usage {
  bytes: number;
  files: number;
}

/**
 * A user's own setting of one limit: a number, no limit at all (`unlimited`), or null for the
 * configured default.
 */
export type QuotaSetting = number | 'unlimited' | null;

export interface QuotaSettings {
  bytes: QuotaSetting;
  files: QuotaSetting;
}

/** Where a user stands. */
export interface QuotaStatus {
  usage: Usage;
  quota: Quota;
  settings: QuotaSettings;
}

/** Bytes as people read them: `10 MiB`, `9.5 MiB`, `512 bytes`. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  // One decimal at most, and none when it is a round number.
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

/** What `changes` sets, as the `user.updated` audit event names it (`quotaBytes`, `quotaFiles`). */
export function changedQuotaOf(changes: Partial<QuotaSettings>): Record<string, QuotaSetting> {
  return {
    ...(changes.bytes !== undefined && { quotaBytes: changes.bytes }),
    ...(changes.files !== undefined && { quotaFiles: changes.files }),
  };
}
