import { createHash, randomBytes } from 'node:crypto';
import type { Scope } from '../auth/scopes.js';

/**
 * Marks a bearer token as an API key, so the guard tells it from a JWT without parsing it, and a
 * secret scanner can tell it from noise.
 */
const API_KEY_PREFIX = 'fds_';
/** 32 random bytes in base64url after the prefix. */
const API_KEY_LENGTH = API_KEY_PREFIX.length + 43;

/** An API key as its owner and admins see it: never the key itself, nor its hash. */
export interface ApiKey {
  id: string;
  ownerId: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  /** null: never expires. */
  expiresAt: Date | null;
  /** null: never used. To the minute. */
  lastUsedAt: Date | null;
}

/** A new key: shown once, stored only as its hash. */
export function generateApiKey(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/**
 * SHA-256, unsalted: the key is 256 random bits, so no dictionary or brute force reaches it from
 * its hash, and a salt or a slow hash (argon2, for passwords people choose) would add nothing but
 * cost on every request. Unsalted, the hash is also what the key is looked up by.
 */
export function hashApiKey(key: string): string | null {
  if (key.length !== API_KEY_LENGTH || !/^[A-Za-z0-9_-]+$/.test(key)) return null;
  return createHash('sha256').update(key).digest('hex');
}
