/** No slot is free and the queue is full, or the wait for a slot ran out. */
export class GateBusyError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('busy');
  }
}

export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
  fail: (error: Error) => void;
}

/**
 * At most `slots` holders at once; at most `queueLimit` more waiting, each at most `maxWaitMs`.
 * Whoever cannot wait is told when to come back, from how long a slot has lately been held.
 */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  /** Moving average of how long a slot is held, for Retry-After. */
  private averageHoldMs = 1000;

  constructor(
    readonly slots: number,
    readonly queueLimit: number,
    readonly maxWaitMs: number,
  ) {}

  /**
   * Resolves with a release function once a slot is free.
   * @throws GateBusyError when the queue is full or the wait exceeds `maxWaitMs`
   * @throws the signal's reason when `signal` aborts while waiting
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.slots) return Promise.resolve(this.grant());
    if (this.waiting.length >= this.queueLimit) return Promise.reject(this.busy());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          cleanUp();
          resolve(release);
        },
        fail: (error) => {
          cleanUp();
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
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

  get stats(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length };
  }

  private grant(): Release {
    this.active++;
    const since = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.averageHoldMs = 0.8 * this.averageHoldMs + 0.2 * (Date.now() - since);
      const next = this.waiting.shift();
      if (next) {
        // The slot passes straight to the next in line.
        this.active--;
        next.grant(this.grant());
      } else {
        this.active--;
      }
    };
  }

  private busy(): GateBusyError {
    const seconds = (this.averageHoldMs * (this.waiting.length + 1)) / this.slots / 1000;
    return new GateBusyError(Math.max(1, Math.ceil(seconds)));
  }
}
