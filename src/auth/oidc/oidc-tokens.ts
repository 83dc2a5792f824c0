import { Injectable, Logger } from '@nestjs/common';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { ProviderUnavailableError } from '../../common/domain-errors.js';
import { AppConfig, type OidcConfig } from '../../config/app-config.js';

/**
 * The signature algorithms a provider's tokens may use: asymmetric only. `none` and the HMACs are
 * refused before any key is looked at, so a token "signed" with HS256 and the provider's public
 * key as the secret goes nowhere.
 */
const OIDC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
/** How far the provider's clock may be from ours when `exp` and `nbf` are checked. */
const OIDC_CLOCK_SKEW_SECONDS = 30;
/** Longest wait for the provider's discovery document or keys. */
const FETCH_TIMEOUT_MS = 5000;

/** Errors of a token, as opposed to errors of reaching the provider. */
const TOKEN_ERRORS = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSENotSupported,
  errors.JOSEAlgNotAllowed,
  errors.JWSInvalid,
  errors.JWTInvalid,
  errors.JWKInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JWTClaimValidationFailed,
  errors.JWTExpired,
];

/** The provider's discovery document or keys could not be had. */
class ProviderUnreachable extends Error {}

/**
 * Access tokens of the configured OpenID Connect provider (OIDC_ISSUER): signature with one of
 * its published keys, `iss`, `aud`, `exp` and `nbf`. The keys come from OIDC_JWKS_URL, or from the
 * `jwks_uri` of the issuer's discovery document, fetched when the first token arrives (the
 * service starts whether or not the provider answers). jose's remote key set caches them for ten
 * minutes and fetches them again for a token with an unknown key id (a rotation at the
 * provider), at most once per OIDC_JWKS_COOLDOWN_SECONDS.
 */
@Injectable()
export class OidcTokens {
  private readonly logger = new Logger(OidcTokens.name);
  private readonly config?: OidcConfig;
  private keys?: Promise<JWTVerifyGetKey>;

  constructor(config: AppConfig) {
    this.config = config.oidc;
  }

  get enabled(): boolean {
    return this.config !== undefined;
  }

  /**
   * The token's claims once checked; null for a token that is not valid.
   * @throws ProviderUnavailableError when the provider's keys cannot be fetched
   */
  async verify(token: string): Promise<JWTPayload | null> {
    const config = this.config;
    if (!config) return null;
    try {
      const { payload } = await jwtVerify(token, await this.signingKeys(config), {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: OIDC_ALGORITHMS,
        clockTolerance: OIDC_CLOCK_SKEW_SECONDS,
        requiredClaims: ['sub', 'exp'],
      });
      return payload;
    } catch (error) {
      if (TOKEN_ERRORS.some((type) => error instanceof type)) return null;
      this.logger.warn(`cannot fetch the keys of ${config.issuer}: ${describeError(error)}`);
      throw new ProviderUnavailableError(
        'the identity provider cannot be reached: try again shortly',
      );
    }
  }

  /** The provider's key set, found through discovery the first time; tried again after a failure. */
  private signingKeys(config: OidcConfig): Promise<JWTVerifyGetKey> {
    this.keys ??= this.jwksUrl(config).then(
      (url) =>
        createRemoteJWKSet(new URL(url), {
          cooldownDuration: config.jwksCooldownSeconds * 1000,
          timeoutDuration: FETCH_TIMEOUT_MS,
        }),
      (error: unknown) => {
        this.keys = undefined;
        throw error;
      },
    );
    return this.keys;
  }

  private async jwksUrl(config: OidcConfig): Promise<string> {
    if (config.jwksUrl) return config.jwksUrl;
    const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await fetch(url, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      redirect: 'manual',
      headers: { accept: 'application/json' },
    });
    if (response.status !== 200) {
      throw new ProviderUnreachable(`${url} answered ${response.status}`);
    }
    const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
    // OpenID Connect Discovery 1.0, 4.3: the document must name the issuer it was fetched for.
    if (document.issuer !== config.issuer) {
      throw new ProviderUnreachable(`${url} names the issuer ${JSON.stringify(document.issuer)}`);
    }
    if (typeof document.jwks_uri !== 'string' || !isTrustedUrl(document.jwks_uri)) {
      throw new ProviderUnreachable(`${url} has no https jwks_uri`);
    }
    return document.jwks_uri;
  }
}

/** https, or http on the loopback only (as OIDC_ISSUER and OIDC_JWKS_URL). */
function isTrustedUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
    );
  } catch {
    return false;
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}
