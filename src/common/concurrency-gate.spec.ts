import { jest } from '@jest/globals';
import { ConcurrencyGate, GateBusyError } from './concurrency-gate.js';

describe('ConcurrencyGate', () => {
  afterEach(() => jest.useRealTimers());

  it('grants up to its slots at once, then queues, then refuses', async () => {
    const gate = new ConcurrencyGate(2, 1, 10_000);
    const first = await gate.acquire();
    await gate.acquire();
    const queued = gate.acquire();
    expect(gate.stats).toMatchObject({ active: 2, waiting: 1 });
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateBusyError);
    first();
    await queued;
    expect(gate.stats).toMatchObject({ active: 2, waiting: 0 });
  });

  it('counts the callers it refuses, for a full queue and for a wait that ran out', async () => {
    jest.useFakeTimers();
    const gate = new ConcurrencyGate(1, 1, 5000);
    await gate.acquire();
    const waiting = gate.acquire();
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateBusyError);
    expect(gate.refused).toBe(1);
    jest.advanceTimersByTime(5000);
    await expect(waiting).rejects.toBeInstanceOf(GateBusyError);
    expect(gate.refused).toBe(2);
  });

  it('serves the queue first in, first out', async () => {
    const gate = new ConcurrencyGate(1, 3, 10_000);
    const release = await gate.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      gate.acquire().then((next) => {
        order.push(n);
        next();
      }),
    );
    release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(gate.stats).toMatchObject({ active: 0, waiting: 0 });
  });

  it('gives up on a wait longer than maxWaitMs, with a Retry-After of a second or more', async () => {
    jest.useFakeTimers();
    const gate = new ConcurrencyGate(1, 1, 5000);
    await gate.acquire();
    const waiting = gate.acquire();
    jest.advanceTimersByTime(5000);
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GateBusyError);
    expect((error as GateBusyError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(gate.stats).toMatchObject({ active: 1, waiting: 0 });
  });

  it('drops a waiter whose client went away, and refuses one that already has', async () => {
    const gate = new ConcurrencyGate(1, 2, 10_000);
    const release = await gate.acquire();
    const left = new AbortController();
    const waiting = gate.acquire(left.signal);
    left.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(gate.stats).toMatchObject({ active: 1, waiting: 0 });
    await expect(gate.acquire(left.signal)).rejects.toThrow('gone');
    release();
    expect(gate.stats).toMatchObject({ active: 0, waiting: 0 });
  });

  it('counts a release once, however often it is called', async () => {
    const gate = new ConcurrencyGate(1, 0, 10_000);
    const release = await gate.acquire();
    release();
    release();
    expect(gate.stats).toMatchObject({ active: 0, waiting: 0 });
    await gate.acquire();
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateBusyError);
  });

  it('grants by weight, never past the capacity, and keeps the queue in order', async () => {
    const gate = new ConcurrencyGate(100, 10, 10_000);
    const big = await gate.acquire(undefined, 70);
    const order: string[] = [];
    // 50 does not fit beside 70; 10 would, but must not overtake the waiter ahead of it.
    const heavy = gate.acquire(undefined, 50).then((release) => (order.push('heavy'), release));
    const light = gate.acquire(undefined, 10).then((release) => (order.push('light'), release));
    await Promise.resolve();
    expect(gate.stats).toEqual({ active: 1, waiting: 2, used: 70 });
    big();
    const [releaseHeavy, releaseLight] = await Promise.all([heavy, light]);
    expect(order).toEqual(['heavy', 'light']);
    expect(gate.stats).toEqual({ active: 2, waiting: 0, used: 60 });
    releaseHeavy();
    releaseLight();
    expect(gate.stats).toEqual({ active: 0, waiting: 0, used: 0 });
  });

  it('refuses a weight larger than the whole capacity at once', async () => {
    const gate = new ConcurrencyGate(100, 10, 10_000);
    await expect(gate.acquire(undefined, 101)).rejects.toBeInstanceOf(RangeError);
    expect(gate.stats).toEqual({ active: 0, waiting: 0, used: 0 });
  });

  it('lets those behind a heavy waiter through when it gives up', async () => {
    jest.useFakeTimers();
    const gate = new ConcurrencyGate(100, 10, 5000);
    await gate.acquire(undefined, 60);
    const heavy = gate.acquire(undefined, 50);
    jest.advanceTimersByTime(2000);
    const light = gate.acquire(undefined, 30);
    jest.advanceTimersByTime(3000); // the heavy one's wait runs out first
    await expect(heavy).rejects.toBeInstanceOf(GateBusyError);
    await expect(light).resolves.toEqual(expect.any(Function));
    expect(gate.stats).toEqual({ active: 2, waiting: 0, used: 90 });
  });
});
