import { jest } from '@jest/globals';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';

describe('SlidingWindowLimiter', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-22T10:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  it('lets a key through until it reaches the limit within the window', () => {
    const limiter = new SlidingWindowLimiter(3, 60_000);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('a')).toBe(0);
      limiter.record('a');
    }
    expect(limiter.retryAfterSeconds('a')).toBe(60);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
  });

  it('frees the key once the oldest event leaves the window, not before', () => {
    const limiter = new SlidingWindowLimiter(2, 15 * 60_000);
    limiter.record('a');
    jest.advanceTimersByTime(5 * 60_000);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(10 * 60);
    jest.advanceTimersByTime(10 * 60_000 - 1000);
    expect(limiter.retryAfterSeconds('a')).toBe(1);
    jest.advanceTimersByTime(1000);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    // The second event is still in the window: one more is allowed, then the key waits again.
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(5 * 60);
  });

  it('takes back a recorded event, freeing its place at once', () => {
    const limiter = new SlidingWindowLimiter(2, 60_000);
    limiter.record('a');
    jest.advanceTimersByTime(10_000);
    const second = limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(50);
    limiter.takeBack('a', second);
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    // Only that one event went: the first still counts, so one more fills the key again.
    jest.advanceTimersByTime(10_000);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(40);
  });

  it('takes back the event it is given, not another of the key', () => {
    const limiter = new SlidingWindowLimiter(2, 60_000);
    const first = limiter.record('a');
    jest.advanceTimersByTime(20_000);
    limiter.record('a');
    limiter.takeBack('a', first);
    jest.advanceTimersByTime(20_000);
    limiter.record('a');
    // The oldest event left is 20 s old, so the key waits 40 s; had the other gone, 20 s.
    expect(limiter.retryAfterSeconds('a')).toBe(40);
  });

  it('ignores taking back an event that has left the window', () => {
    const limiter = new SlidingWindowLimiter(2, 60_000);
    const old = limiter.record('a');
    jest.advanceTimersByTime(60_000);
    limiter.record('a');
    limiter.takeBack('a', old);
    limiter.takeBack('b', old);
    limiter.record('a');
    expect(limiter.retryAfterSeconds('a')).toBe(60);
  });

  it('keeps at most maxKeys keys, forgetting the least recently recorded', () => {
    const limiter = new SlidingWindowLimiter(1, 60_000, 2);
    limiter.record('a');
    limiter.record('b');
    limiter.record('c');
    expect(limiter.retryAfterSeconds('a')).toBe(0);
    expect(limiter.retryAfterSeconds('b')).toBe(60);
    expect(limiter.retryAfterSeconds('c')).toBe(60);
  });
});
