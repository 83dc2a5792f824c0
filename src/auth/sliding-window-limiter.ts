/**
 * Counts events per key in a sliding window: once `limit` events fall within `windowMs`, the key
 * must wait until the oldest of them leaves the window. In memory, per instance, and bounded to
 * `maxKeys` keys (the least recently used go first).
 */
export class SlidingWindowLimiter {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  /** Whole seconds until `key` may have another event; 0 when it may now. */
  retryAfterSeconds(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.limit) return 0;
    return Math.max(1, Math.ceil((recent[0] + this.windowMs - Date.now()) / 1000));
  }

  /** Records an event for `key` now; returns its time, which `takeBack` needs. */
  record(key: string): number {
    const now = Date.now();
    const recent = [...this.recent(key), now].slice(-this.limit);
    this.events.delete(key);
    // Maps iterate in insertion order: the first key is the one least recently recorded.
    if (this.events.size >= this.maxKeys) this.events.delete(this.events.keys().next().value!);
    this.events.set(key, recent);
    return now;
  }

  /**
   * Forgets the event `record` returned `time` for: it turned out not to count. Does nothing when
   * that event is gone already (out of the window, or its key forgotten).
   */
  takeBack(key: string, time: number): void {
    const recent = this.events.get(key);
    const index = recent?.lastIndexOf(time) ?? -1;
    if (!recent || index === -1) return;
    recent.splice(index, 1);
    if (recent.length === 0) this.events.delete(key);
  }

  private recent(key: string): number[] {
    const since = Date.now() - this.windowMs;
    const recent = (this.events.get(key) ?? []).filter((time) => time > since);
    if (recent.length === 0) this.events.delete(key);
    return recent;
  }
}
