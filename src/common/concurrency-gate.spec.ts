import { jest } from '@jest/globals';
import { ConcurrencyGate, GateBusyError } from './concurrency-gate.js';

describe('ConcurrencyGate', () => {
  afterEach(() => jest.useRealTimers());

  it('grants up to its slots at once, then queues, then refuses', async () => {
    const gate = new ConcurrencyGate(2, 1, 10_000);
    const first = await gate.acquire();
    await gate.acquire();
    const queued = gate.acquire();
    expect(gate.stats).toEqual({ active: 2, waiting: 1 });
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateBusyError);
    first();
    await queued;
    expect(gate.stats).toEqual({ active: 2, waiting: 0 });
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
    expect(gate.stats).toEqual({ active: 0, waiting: 0 });
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
    expect(gate.stats).toEqual({ active: 1, waiting: 0 });
  });

  it('drops a waiter whose client went away, and refuses one that already has', async () => {
    const gate = new ConcurrencyGate(1, 2, 10_000);
    const release = await gate.acquire();
    const left = new AbortController();
    const waiting = gate.acquire(left.signal);
    left.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(gate.stats).toEqual({ active: 1, waiting: 0 });
    await expect(gate.acquire(left.signal)).rejects.toThrow('gone');
    release();
    expect(gate.stats).toEqual({ active: 0, waiting: 0 });
  });

  it('counts a release once, however often it is called', async () => {
    const gate = new ConcurrencyGate(1, 0, 10_000);
    const release = await gate.acquire();
    release();
    release();
    expect(gate.stats).toEqual({ active: 0, waiting: 0 });
    await gate.acquire();
    await expect(gate.acquire()).rejects.toBeInstanceOf(GateBusyError);
  });
});
