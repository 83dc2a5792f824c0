import { Injectable, Logger } from '@nestjs/common';
import { AuditRecorder } from '../audit/audit-recorder.js';
import type { AuditScene } from '../audit/audit-scene.js';
import { AppConfig } from '../config/app-config.js';
import { ConcurrencyGate } from '../common/concurrency-gate.js';
import { RateLimitedError, UnauthenticatedError } from '../common/domain-errors.js';
import type { AuthState } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import type { AccessTokenClaims } from './authenticated-user.js';
import { clientAddressKey } from './client-address-key.js';
import { SessionTokens } from './session-tokens.js';
import { type SlidingWindow, SlidingWindowLimiter } from './sliding-window-limiter.js';

export interface AccessToken {
  token: string;
  expiresInSeconds: number;
}

/** Logins that may wait for a password verification slot; past that, 503. */
export const LOGIN_QUEUE_LIMIT = 64;
/** Longest a login waits for a password verification slot before it is answered 503. */
const LOGIN_QUEUE_TIMEOUT_MS = 10_000;

/** The limits on logins (API.md), counted in the database for every instance at once. */
const ATTEMPTS_PER_CLIENT: SlidingWindow = { name: 'client', limit: 60, windowMs: 60_000 };
const FAILURES_PER_CLIENT_AND_NAME: SlidingWindow = {
  name: 'failures',
  limit: 10,
  windowMs: 15 * 60_000,
};

/**
 * Logins, and the two limits on them (API.md): 10 failed logins per username and client address
 * in 15 minutes, and 60 attempts per client address in a minute. An IPv6 client address counts
 * by its /64 (`clientAddressKey`).
 */
@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  /**
   * argon2 runs on libuv's thread pool, which every file read and write also needs: a burst of
   * logins must not take all of it.
   */
  private readonly verifications: ConcurrencyGate;

  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionTokens,
    private readonly limiter: SlidingWindowLimiter,
    private readonly config: AppConfig,
    private readonly audit: AuditRecorder,
  ) {
    this.verifications = new ConcurrencyGate(
      config.loginConcurrency,
      LOGIN_QUEUE_LIMIT,
      LOGIN_QUEUE_TIMEOUT_MS,
      'too many logins are being checked: try again shortly',
    );
  }

  /**
   * Checks a username and password from `client` (its address) and issues a token; the attempt
   * is audited in `scene`.
   */
  async login(
    username: string,
    password: string,
    client: string,
    scene: AuditScene,
  ): Promise<AccessToken> {
    const clientKey = clientAddressKey(client);
    const recording = await this.limiter.record([
      { window: ATTEMPTS_PER_CLIENT, key: clientKey },
      // Counted as a failure until the password proves otherwise: were failures counted only once
      // verified, a burst would pass the limit whole before the first verification answers.
      { window: FAILURES_PER_CLIENT_AND_NAME, key: `${clientKey} ${username}` },
    ]);
    if ('refused' in recording) {
      this.recordFailure(username, 'rate-limited', scene);
      throw new RateLimitedError(
        recording.refused.window === ATTEMPTS_PER_CLIENT
          ? 'too many login attempts from this address: try again later'
          : 'too many failed logins for this username: try again later',
        recording.retryAfterSeconds,
      );
    }
    const failure = recording.events[1];
    let user: AuthState | null;
    try {
      user = await this.verifyCredentials(username, password);
    } catch (error) {
      // Not verified (too busy, or the database failed): not a failed login either. What failed
      // to verify it is the error to answer with, not a failure to take the count back.
      await this.limiter
        .takeBack(failure)
        .catch((takeBackError: unknown) =>
          this.logger.warn(`could not take back a login failure: ${String(takeBackError)}`),
        );
      throw error;
    }
    if (!user) {
      this.recordFailure(username, 'credentials', scene);
      throw new UnauthenticatedError('wrong username or password');
    }
    await this.limiter.takeBack(failure);
    this.audit.record(
      {
        action: 'auth.login.succeeded',
        actor: { kind: 'user', id: user.id },
        details: { username: user.username },
      },
      scene,
    );
    return this.issueToken(user);
  }

  private recordFailure(
    username: string,
    reason: 'credentials' | 'rate-limited',
    scene: AuditScene,
  ): void {
    this.audit.record(
      {
        action: 'auth.login.failed',
        actor: { kind: 'username', id: username },
        details: { reason },
      },
      scene,
    );
  }

  /** Signs an access token for `user`, valid for `expiresInSeconds` (JWT_EXPIRES_IN by default). */
  issueToken(user: AuthState, expiresInSeconds = this.config.jwt.expiresInSeconds): AccessToken {
    const claims: AccessTokenClaims = { sub: user.id, ver: user.tokenVersion };
    return { token: this.sessions.sign(claims, expiresInSeconds), expiresInSeconds };
  }

  /** @throws GateBusyError when too many logins wait already, or this one waited too long */
  private async verifyCredentials(username: string, password: string): Promise<AuthState | null> {
    const release = await this.verifications.acquire();
    try {
      return await this.users.verifyCredentials(username, password);
    } finally {
      release();
    }
  }
}
