import { HttpStatus, Injectable, UnauthorizedException } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config.js';
import { RetryLaterException } from '../common/http-exceptions.js';
import type { AuthState } from '../users/user.js';
import { UsersService } from '../users/users.service.js';
import type { AccessTokenClaims } from './authenticated-user.js';
import { SlidingWindowLimiter } from './sliding-window-limiter.js';

export interface AccessToken {
  token: string;
  expiresInSeconds: number;
}

/**
 * Logins, and the two limits on them (API.md): 10 failed logins per username and client address
 * in 15 minutes, and 60 attempts per client address in a minute.
 */
@Injectable()
export class AuthService {
  private readonly failuresPerClientAndName = new SlidingWindowLimiter(10, 15 * 60_000);
  private readonly attemptsPerClient = new SlidingWindowLimiter(60, 60_000);

  constructor(
    private readonly users: UsersService,
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {}

  /** Checks a username and password from `client` (its address) and issues a token. */
  async login(username: string, password: string, client: string): Promise<AccessToken> {
    const clientAndName = `${client} ${username}`;
    this.refuseWhileLimited(
      this.attemptsPerClient.retryAfterSeconds(client),
      'too many login attempts from this address: try again later',
    );
    this.refuseWhileLimited(
      this.failuresPerClientAndName.retryAfterSeconds(clientAndName),
      'too many failed logins for this username: try again later',
    );
    this.attemptsPerClient.record(client);
    const user = await this.users.verifyCredentials(username, password);
    if (!user) {
      this.failuresPerClientAndName.record(clientAndName);
      throw new UnauthorizedException('wrong username or password');
    }
    return this.issueToken(user);
  }

  /** Signs an access token for `user`, valid for `expiresInSeconds` (JWT_EXPIRES_IN by default). */
  async issueToken(
    user: AuthState,
    expiresInSeconds = this.config.jwt.expiresInSeconds,
  ): Promise<AccessToken> {
    const claims: AccessTokenClaims = { sub: user.id, ver: user.tokenVersion };
    const token = await this.jwt.signAsync(claims, { expiresIn: expiresInSeconds });
    return { token, expiresInSeconds };
  }

  private refuseWhileLimited(retryAfterSeconds: number, message: string): void {
    if (retryAfterSeconds > 0) {
      throw new RetryLaterException(HttpStatus.TOO_MANY_REQUESTS, message, retryAfterSeconds);
    }
  }
}
