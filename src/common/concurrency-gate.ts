/**
 * No capacity is free and the queue is full, or the wait for capacity ran out: overload, which
 * `AllExceptionsFilter` answers with 503 and `Retry-After`.
 */
export class GateBusyError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

export type Release = () => void;

interface Waiter {
  weight: number;
  grant: (release: Release) => void;
  fail: (error: Error) => void;
}

/**
 * A weighted semaphore with a bounded, first-in first-out queue: holders take `weight` units of
 * `capacity` (one each by default, so the gate counts holders), at most `queueLimit` more wait,
 * each at most `maxWaitMs`. Whoever cannot wait is told when to come back, from how long capacity
 * has lately been held. The head of the queue is never overtaken, so a heavy waiter is not
 * starved by a stream of light ones.
 */
export class ConcurrencyGate {
  private used = 0;
  private holders = 0;
  private readonly waiting: Waiter[] = [];
  /** Moving average of how long a grant is held, for Retry-After. */
  private averageHoldMs = 1000;
  /** Callers refused so far (queue full, or the wait ran out): a total for the metrics. */
  private refusals = 0;

  constructor(
    readonly capacity: number,
    readonly queueLimit: number,
    readonly maxWaitMs: number,
    /** What a refused caller is told: what is busy, and to try again. */
    private readonly busyMessage = 'the service is busy: try again shortly',
  ) {}

  /**
   * Resolves with a release function once `weight` units are free.
   * @throws RangeError when `weight` exceeds the whole capacity (it could never be granted)
   * @throws GateBusyError when the queue is full or the wait exceeds `maxWaitMs`
   * @throws the signal's reason when `signal` aborts while waiting
   */
  acquire(signal?: AbortSignal, weight = 1): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (weight > this.capacity) {
      return Promise.reject(new RangeError(`${weight} is more than the capacity ${this.capacity}`));
    }
    if (this.waiting.length === 0 && this.fits(weight)) return Promise.resolve(this.grant(weight));
    if (this.waiting.length >= this.queueLimit) return Promise.reject(this.busy());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        weight,
        grant: (release) => {
          cleanUp();
          resolve(release);
        },
        fail: (error) => {
          cleanUp();
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          // Leaving may unblock those behind a heavy head of the queue.
          this.grantWaiters();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.fail(this.busy()), this.maxWaitMs);
      const onAbort = () => waiter.fail(signal!.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanUp = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.waiting.push(waiter);
    });
  }

  /** Callers refused so far, their queue full or their wait run out (never reset). */
  get refused(): number {
    return this.refusals;
  }

  /** `active`: holders now; `waiting`: in the queue; `used`: units held (= active when unweighted). */
  get stats(): { active: number; waiting: number; used: number } {
    return { active: this.holders, waiting: this.waiting.length, used: this.used };
  }

  private fits(weight: number): boolean {
    return this.used + weight <= this.capacity;
  }

  private grant(weight: number): Release {
    this.used += weight;
    this.holders++;
    const since = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.averageHoldMs = 0.8 * this.averageHoldMs + 0.2 * (Date.now() - since);
      this.used -= weight;
      this.holders--;
      this.grantWaiters();
    };
  }

  /** Grants the head of the queue for as long as it fits. */
  private grantWaiters(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].weight)) {
      const next = this.waiting.shift()!;
      next.grant(this.grant(next.weight));
    }
  }

  /** Whole seconds, at least one, until the queue has likely moved on by one more place. */
  retryAfterSeconds(): number {
    const holders = Math.max(1, this.holders);
    const seconds = (this.averageHoldMs * (this.waiting.length + 1)) / holders / 1000;
    return Math.max(1, Math.ceil(seconds));
  }

  private busy(): GateBusyError {
    this.refusals++;
    return new GateBusyError(this.busyMessage, this.retryAfterSeconds());
  }
}
