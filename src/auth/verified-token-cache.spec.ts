import { jest } from '@jest/globals';
import { VerifiedTokenCache, type VerifiedClaims } from './verified-token-cache.js';

const NOW_SECONDS = Date.parse('2026-11-22T10:00:00Z') / 1000;
const claims = (sub: string, expiresIn = 3600): VerifiedClaims => ({
  sub,
  ver: 0,
  exp: NOW_SECONDS + expiresIn,
});

describe('VerifiedTokenCache', () => {
  beforeEach(() => jest.useFakeTimers({ now: NOW_SECONDS * 1000 }));
  afterEach(() => jest.useRealTimers());

  it('gives back the claims of a token it was given, and nothing for another', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('Bearer a', claims('alice'));
    expect(cache.get('Bearer a')).toEqual(claims('alice'));
    expect(cache.get('Bearer b')).toBeUndefined();
    expect(cache.get(undefined)).toBeUndefined();
  });

  it('never answers for a token past its expiry, as jsonwebtoken counts it', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('Bearer a', claims('alice', 60));
    jest.advanceTimersByTime(59_999);
    expect(cache.get('Bearer a')).toBeDefined();
    // jsonwebtoken: expired once the current second reaches exp.
    jest.advanceTimersByTime(1);
    expect(cache.get('Bearer a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most its configured number of tokens, the least recently used going first', () => {
    const cache = new VerifiedTokenCache(2);
    cache.set('Bearer a', claims('alice'));
    cache.set('Bearer b', claims('bob'));
    cache.get('Bearer a');
    cache.set('Bearer c', claims('carol'));
    expect(cache.size).toBe(2);
    expect(cache.get('Bearer b')).toBeUndefined();
    expect(cache.get('Bearer a')).toBeDefined();
    expect(cache.get('Bearer c')).toBeDefined();
  });

  it('forgets a token it is told to, and keeps nothing at all when sized 0', () => {
    const cache = new VerifiedTokenCache(10);
    cache.set('Bearer a', claims('alice'));
    cache.delete('Bearer a');
    expect(cache.get('Bearer a')).toBeUndefined();
    const none = new VerifiedTokenCache(0);
    none.set('Bearer a', claims('alice'));
    expect(none.get('Bearer a')).toBeUndefined();
  });
});
