import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpStatus, Logger } from '@nestjs/common';
import { AuditRepository } from '../audit/audit-repository.js';
import { SYSTEM_SCENE } from '../audit/audit-scene.js';
import { AuditTrail } from '../audit/audit-trail.js';
import { loadConfig } from '../config/app-config.js';
import { GateBusyError } from '../common/concurrency-gate.js';
import { RateLimitedError, UnauthenticatedError } from '../common/domain-errors.js';
import { Database } from '../database/database.js';
import { migrateToLatest } from '../database/database.module.js';
import type { PasswordHasher } from '../users/password-hasher.js';
import { UserRepository } from '../users/user-repository.js';
import { UsersService } from '../users/users.service.js';
import { AuthService, LOGIN_QUEUE_LIMIT } from './auth.service.js';
import { VerifiedTokenCache } from './verified-token-cache.js';
import { SessionTokens } from './session-tokens.js';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';
import { Metrics } from '../metrics/metrics.js';

/** A hasher whose verifications answer "wrong" only when the test says so. */
class HeldHasher {
  readonly pending: (() => void)[] = [];
  inFlight = 0;
  mostInFlight = 0;

  hash(password: string): Promise<string> {
    return Promise.resolve(`hash of ${password}`);
  }

  verify(): Promise<boolean> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    return new Promise((resolve) =>
      this.pending.push(() => {
        this.inFlight--;
        resolve(false);
      }),
    );
  }

  /** Lets the oldest verification answer. */
  answerOne(): void {
    this.pending.shift()!();
  }
}

/** Waits until `condition` holds, letting queued promises and I/O run in between. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

/** Outcome of a login: its status code, and its Retry-After when it has one. */
function outcome(login: Promise<unknown>): Promise<{ status: number; retryAfter?: string }> {
  return login.then(
    () => ({ status: 200 }),
    (error: unknown) => {
      // As the exception filter answers them.
      if (error instanceof GateBusyError)
        return { status: 503, retryAfter: String(error.retryAfterSeconds) };
      if (error instanceof RateLimitedError)
        return { status: 429, retryAfter: String(error.retryAfterSeconds) };
      if (error instanceof UnauthenticatedError) return { status: 401 };
      throw error;
    },
  );
}

describe('AuthService password verifications', () => {
  let storageDir: string;
  let db: Database;
  let hasher: HeldHasher;
  let auth: AuthService;

  // The migrations log what they apply.
  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    storageDir = await mkdtemp(join(tmpdir(), 'auth-service-test-'));
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'a-secret-for-tests-a-secret-for-tests',
      LOGIN_CONCURRENCY: '2',
      AUDIT_ENABLED: 'false',
    });
    db = Database.connect(config.database);
    await migrateToLatest(db);
    hasher = new HeldHasher();
    const audit = new AuditTrail(new AuditRepository(db), config, Metrics.off());
    const users = new UsersService(
      new UserRepository(db),
      hasher as unknown as PasswordHasher,
      config,
      audit,
    );
    auth = new AuthService(
      users,
      new SessionTokens(config, new VerifiedTokenCache(0)),
      new SlidingWindowLimiter(db),
      config,
      audit,
    );
  });

  afterEach(async () => {
    while (hasher.pending.length > 0) hasher.answerOne();
    await db.destroy();
    await rm(storageDir, { recursive: true, force: true });
  });

  it('runs at most LOGIN_CONCURRENCY at once; the others wait their turn', async () => {
    const logins = Array.from({ length: 6 }, (_, i) =>
      outcome(auth.login(`user${i}`, 'wrong', `198.51.100.${i}`, SYSTEM_SCENE)),
    );
    for (let answered = 0; answered < 6; answered++) {
      await until(() => hasher.pending.length >= Math.min(2, 6 - answered));
      expect(hasher.inFlight).toBeLessThanOrEqual(2);
      hasher.answerOne();
    }
    expect(await Promise.all(logins)).toEqual(Array(6).fill({ status: 401 }));
    expect(hasher.mostInFlight).toBe(2);
  });

  it('answers 503 with Retry-After once the queue is full, and does not count it as a failure', async () => {
    // Nine failures for admin from one address: one more and that address is refused for admin.
    for (let i = 0; i < 9; i++) {
      const login = outcome(auth.login('admin', 'wrong', '203.0.113.1', SYSTEM_SCENE));
      await until(() => hasher.pending.length >= 1);
      hasher.answerOne();
      expect(await login).toEqual({ status: 401 });
    }
    const holding = Array.from({ length: 2 + LOGIN_QUEUE_LIMIT }, (_, i) =>
      outcome(auth.login('someone', 'wrong', `2001:db8:${i}::1`, SYSTEM_SCENE)),
    );
    await until(() => hasher.pending.length >= 2);
    const refused = await outcome(auth.login('admin', 'wrong', '203.0.113.1', SYSTEM_SCENE));
    expect(refused).toEqual({
      status: HttpStatus.SERVICE_UNAVAILABLE,
      retryAfter: expect.any(String),
    });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);

    while (holding.length > 0) {
      await until(() => hasher.pending.length > 0);
      hasher.answerOne();
      expect(await holding.shift()).toEqual({ status: 401 });
    }
    // The refused attempt was never verified: admin still has its tenth failure to spend.
    const tenth = outcome(auth.login('admin', 'wrong', '203.0.113.1', SYSTEM_SCENE));
    await until(() => hasher.pending.length >= 1);
    hasher.answerOne();
    expect(await tenth).toEqual({ status: 401 });
    expect(await outcome(auth.login('admin', 'wrong', '203.0.113.1', SYSTEM_SCENE))).toMatchObject({
      status: HttpStatus.TOO_MANY_REQUESTS,
    });
  });
});
