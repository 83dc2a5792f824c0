import { Injectable } from '@nestjs/common';
import { looksLikeApiKey } from '../api-keys/api-key.js';
import { ApiKeysService } from '../api-keys/api-keys.service.js';
import { AppConfig } from '../config/app-config.js';
import { UsersService } from '../users/users.service.js';
import {
  type AccessTokenClaims,
  type AuthenticatedUser,
  JWT_ALGORITHM,
} from './authenticated-user.js';
import { roleFromClaims, usernameFromClaims } from './oidc/oidc-claims.js';
import { OidcTokens } from './oidc/oidc-tokens.js';
import { scopesOfRole, type Scope } from './scopes.js';
import { SessionTokens } from './session-tokens.js';

/**
 * Who a bearer token belongs to, whichever kind it is, told apart by its shape: an API key by its
 * prefix; our own JWT by its algorithm (HS256, which no provider token may use); anything else is
 * a provider's token when OIDC is configured. Each kind then ends in a user whose state is
 * current (revocation, role), as `UsersService` caches it.
 */
@Injectable()
export class BearerAuthenticator {
  private readonly oidcConfig: AppConfig['oidc'];

  constructor(
    private readonly sessions: SessionTokens,
    private readonly oidc: OidcTokens,
    private readonly apiKeys: ApiKeysService,
    private readonly users: UsersService,
    config: AppConfig,
  ) {
    this.oidcConfig = config.oidc;
  }

  /**
   * The user, or null when the token is not (or no longer) valid.
   * @throws ProviderUnavailableError when the OpenID Connect provider cannot be reached
   */
  async authenticate(token: string): Promise<AuthenticatedUser | null> {
    if (looksLikeApiKey(token)) return this.fromApiKey(token);
    // A token of ours checked before: its header need not be read again.
    const known = this.sessions.verifiedBefore(token);
    if (known) return this.fromSession(known);
    const header = jwtHeader(token);
    if (!header) return null;
    if (header.alg === JWT_ALGORITHM) {
      const claims = this.sessions.verify(token, header.kid);
      return claims && this.fromSession(claims);
    }
    if (this.oidcConfig) return this.fromOidcToken(token);
    return null;
  }

  private async fromSession(claims: AccessTokenClaims): Promise<AuthenticatedUser | null> {
    const state = await this.users.getAuthState(claims.sub);
    // A password or role change since the token was issued revokes it.
    if (!state || state.tokenVersion !== claims.ver) return null;
    const { id, username, role } = state;
    return { id, username, role, credential: 'session', scopes: scopesOfRole(role) };
  }

  private async fromApiKey(token: string): Promise<AuthenticatedUser | null> {
    const key = await this.apiKeys.verify(token);
    if (!key) return null;
    const owner = await this.users.getAuthState(key.ownerId);
    if (!owner) return null;
    // Within the owner's current role: a demoted admin's keys lose `admin` with them.
    const ofRole = scopesOfRole(owner.role);
    const scopes = new Set<Scope>([...key.scopes].filter((scope) => ofRole.has(scope)));
    return {
      id: owner.id,
      username: owner.username,
      role: owner.role,
      credential: 'api-key',
      scopes,
    };
  }

  private async fromOidcToken(token: string): Promise<AuthenticatedUser | null> {
    const claims = await this.oidc.verify(token);
    if (!claims?.iss || !claims.sub) return null;
    const config = this.oidcConfig!;
    const state = await this.users.provisionExternal(
      { issuer: claims.iss, subject: claims.sub },
      { username: usernameFromClaims(claims, config), role: roleFromClaims(claims, config) },
    );
    return {
      id: state.id,
      username: state.username,
      role: state.role,
      credential: 'oidc',
      scopes: scopesOfRole(state.role),
    };
  }
}

/** The `alg` and `kid` of a compact JWS, or null when the token is not one. */
function jwtHeader(token: string): { alg: string; kid?: string } | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString());
    if (typeof header !== 'object' || header === null) return null;
    const { alg, kid } = header as { alg?: unknown; kid?: unknown };
    if (typeof alg !== 'string' || (kid !== undefined && typeof kid !== 'string')) return null;
    return { alg, kid };
  } catch {
    return null;
  }
}
