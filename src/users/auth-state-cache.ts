import type { AuthState } from './user.js';

/**
 * Remembers each user's auth state for a short while, so an authenticated request costs no
 * database round trip. A change made through this instance evicts the entry at once; other
 * instances see it within `ttlMs` (the API allows 60 seconds).
 */
export class AuthStateCache {
  private readonly entries = new Map<string, { state: AuthState | null; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(id: string): AuthState | null | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(id);
      return undefined;
    }
    return entry.state;
  }

  set(id: string, state: AuthState | null): void {
    this.entries.delete(id);
    // Maps iterate in insertion order: the first key is the oldest entry.
    if (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { state, expiresAt: Date.now() + this.ttlMs });
  }

  evict(id: string): void {
    this.entries.delete(id);
  }
}
