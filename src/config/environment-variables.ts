import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
} from 'class-validator';

/** Turns a decimal string into a number; anything else stays a string, so `@IsInt()` rejects it. */
const Integer = () =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value,
  );

/** At least `min` bytes of UTF-8: a secret's strength is in bytes, not characters. */
const MinBytes = (min: number) =>
  ValidateBy({
    name: 'minBytes',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && Buffer.byteLength(value) >= min,
      defaultMessage: () => `must be at least ${min} bytes`,
    },
  });

/** Splits a comma-separated list of secrets; spaces around the commas are not part of them. */
export function secretList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((secret) => secret.trim())
    .filter((secret) => secret !== '');
}

/** A comma-separated list of secrets, each at least `min` bytes (a base64 secret has no comma). */
const SecretListOfMinBytes = (min: number) =>
  ValidateBy({
    name: 'secretListOfMinBytes',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' &&
        secretList(value).length > 0 &&
        secretList(value).every((secret) => Buffer.byteLength(secret) >= min),
      defaultMessage: () =>
        `must be a comma-separated list of secrets of at least ${min} bytes each`,
    },
  });

/**
 * An https URL, or http on the loopback: the keys that sign tokens are fetched from it, and a
 * key fetched over plain http from anywhere else could be replaced on the way.
 */
const TrustedUrl = (example: string) =>
  Matches(/^(https:\/\/[^/?#\s]+|http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?)(\/[^?#\s]*)?$/, {
    message: `must be an https URL (http only on localhost), e.g. ${example}`,
  });

/**
 * The environment as the operator sets it: one property per variable, named as in the
 * environment, with its default. `loadConfig()` validates it and turns it into `AppConfig`.
 * Every constraint's message completes the sentence "<VARIABLE> ...".
 */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'], {
    message: 'must be one of development, production, test',
  })
  NODE_ENV = 'development';

  @Integer()
  @IsInt({ message: 'must be an integer from 1 to 65535' })
  @Min(1, { message: 'must be an integer from 1 to 65535' })
  @Max(65535, { message: 'must be an integer from 1 to 65535' })
  PORT = 3000;

  @IsString()
  @MinLength(1, { message: 'must not be empty' })
  STORAGE_DIR = './storage';

  @IsOptional()
  @Matches(/^(postgres(ql)?:\/\/.+|sqlite:.+)$/, {
    message: 'must be a postgres:// (or postgresql://) URL, or sqlite:<path>',
  })
  DATABASE_URL?: string;

  @ValidateIf(
    (env: EnvironmentVariables) => env.NODE_ENV === 'production' || env.JWT_SECRET !== undefined,
  )
  @IsString({ message: 'is required when NODE_ENV=production' })
  @MinBytes(32)
  JWT_SECRET?: string;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds from 60 to 2592000 (30 days)' })
  @Min(60, { message: 'must be a whole number of seconds from 60 to 2592000 (30 days)' })
  @Max(2_592_000, { message: 'must be a whole number of seconds from 60 to 2592000 (30 days)' })
  JWT_EXPIRES_IN = 3600;

  /**
   * Earlier values of JWT_SECRET, still accepted for the tokens they signed: rotating the secret
   * then logs nobody out until these are dropped.
   */
  @IsOptional()
  @SecretListOfMinBytes(32)
  JWT_PREVIOUS_SECRETS?: string;

  @IsOptional()
  @MinBytes(32)
  LINK_SECRET?: string;

  /**
   * Earlier values of LINK_SECRET, still accepted for the links they signed. Without LINK_SECRET
   * the link keys are derived from JWT_SECRET and JWT_PREVIOUS_SECRETS, and rotate with them.
   */
  @IsOptional()
  @SecretListOfMinBytes(32)
  @ValidateBy({
    name: 'needsLinkSecret',
    validator: {
      validate: (_value, args) => (args?.object as EnvironmentVariables).LINK_SECRET !== undefined,
      defaultMessage: () =>
        'needs LINK_SECRET: without it, the link keys are derived from the JWT secrets',
    },
  })
  LINK_PREVIOUS_SECRETS?: string;

  @Matches(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1-64 characters of A-Za-z0-9._-' })
  ADMIN_USERNAME = 'admin';

  @IsOptional()
  @MinLength(12, { message: 'must be at least 12 characters' })
  @MaxLength(1024, { message: 'must be at most 1024 characters' })
  ADMIN_PASSWORD?: string;

  @Integer()
  @IsInt({ message: 'must be a positive integer (bytes)' })
  @Min(1, { message: 'must be a positive integer (bytes)' })
  MAX_UPLOAD_BYTES = 1_073_741_824;

  @Integer()
  @IsInt({ message: 'must be a positive integer (bytes)' })
  @Min(1, { message: 'must be a positive integer (bytes)' })
  MAX_IMAGE_BYTES = 26_214_400;

  @Integer()
  @IsInt({ message: 'must be a positive integer (pixels)' })
  @Min(1, { message: 'must be a positive integer (pixels)' })
  MAX_IMAGE_PIXELS = 50_000_000;

  /** Images processed at once; 0 means one per CPU core. */
  @Integer()
  @IsInt({ message: 'must be the number of images processed at once (0: one per core)' })
  @Min(0, { message: 'must be the number of images processed at once (0: one per core)' })
  IMAGE_CONCURRENCY = 0;

  /** Images waiting for a slot; -1 means twice IMAGE_CONCURRENCY. */
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^-?\d{1,9}$/.test(value) ? Number(value) : value,
  )
  @IsInt({ message: 'must be the number of images that may wait (-1: twice IMAGE_CONCURRENCY)' })
  @Min(-1, { message: 'must be the number of images that may wait (-1: twice IMAGE_CONCURRENCY)' })
  IMAGE_QUEUE_LIMIT = -1;

  @Integer()
  @IsInt({ message: 'must be a whole number of milliseconds, at least 1' })
  @Min(1, { message: 'must be a whole number of milliseconds, at least 1' })
  IMAGE_QUEUE_TIMEOUT_MS = 10_000;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  IMAGE_TIMEOUT_SECONDS = 30;

  /** AVIF's encoder needs about 40 bytes a pixel: its output has a pixel cap of its own. */
  @Integer()
  @IsInt({ message: 'must be a positive integer (pixels)' })
  @Min(1, { message: 'must be a positive integer (pixels)' })
  IMAGE_MAX_AVIF_PIXELS = 16_777_216;

  /** Working memory all images in progress may reserve; 0 means a quarter of the memory limit. */
  @Integer()
  @IsInt({ message: 'must be a whole number of MiB (0: a quarter of the memory limit)' })
  @Min(0, { message: 'must be a whole number of MiB (0: a quarter of the memory limit)' })
  IMAGE_MEMORY_BUDGET_MB = 0;

  /**
   * Image requests one user may have holding or waiting for a slot; 0 means twice
   * IMAGE_CONCURRENCY, which leaves others at least IMAGE_CONCURRENCY places by default.
   */
  @Integer()
  @IsInt({ message: 'must be the number of image requests per user (0: twice IMAGE_CONCURRENCY)' })
  @Min(0, { message: 'must be the number of image requests per user (0: twice IMAGE_CONCURRENCY)' })
  IMAGE_USER_LIMIT = 0;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  IMAGE_UPLOAD_TIMEOUT_SECONDS = 60;

  /** Password verifications (argon2) at once; more wait briefly, then get 503. */
  @Integer()
  @IsInt({ message: 'must be a positive integer' })
  @Min(1, { message: 'must be a positive integer' })
  LOGIN_CONCURRENCY = 2;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  UPLOAD_IDLE_TIMEOUT_SECONDS = 60;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  DOWNLOAD_IDLE_TIMEOUT_SECONDS = 60;

  @Integer()
  @IsInt({ message: 'must be a positive integer' })
  @Min(1, { message: 'must be a positive integer' })
  DOWNLOADS_PER_USER = 256;

  @Integer()
  @IsInt({ message: 'must be a positive integer' })
  @Min(1, { message: 'must be a positive integer' })
  DOWNLOADS_PER_LINK = 64;

  /** Where clients reach the service, e.g. https://files.example.com: signed links are built on it. */
  @IsOptional()
  @Matches(/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/, {
    message: 'must be an http(s) URL without query or fragment, e.g. https://files.example.com',
  })
  PUBLIC_BASE_URL?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'must be one of fatal, error, warn, info, debug, trace, silent',
  })
  LOG_LEVEL = 'info';

  /**
   * `json`: one JSON object a line (what log collectors read); `pretty`: human-readable lines;
   * `auto`: pretty when stdout is a terminal outside production, JSON otherwise.
   */
  @IsIn(['auto', 'json', 'pretty'], { message: 'must be one of auto, json, pretty' })
  LOG_FORMAT = 'auto';

  /** Verified bearer tokens remembered until they expire, so each is checked once (0: none). */
  @Integer()
  @IsInt({ message: 'must be a whole number of tokens (0: no cache)' })
  @Min(0, { message: 'must be a whole number of tokens (0: no cache)' })
  TOKEN_CACHE_ENTRIES = 10_000;

  /** Registry entries of downloaded files remembered for up to 30 seconds (0: none). */
  @Integer()
  @IsInt({ message: 'must be a whole number of entries (0: no cache)' })
  @Min(0, { message: 'must be a whole number of entries (0: no cache)' })
  FILE_ENTRY_CACHE_ENTRIES = 10_000;

  /** Bytes of small stored files kept in memory for up to 30 seconds (0: none). */
  @Integer()
  @IsInt({ message: 'must be a whole number of bytes (0: no cache)' })
  @Min(0, { message: 'must be a whole number of bytes (0: no cache)' })
  SMALL_FILE_CACHE_BYTES = 33_554_432;

  /** The largest stored file the small-file cache takes. */
  @Integer()
  @IsInt({ message: 'must be a whole number of bytes, at most 1048576' })
  @Min(0, { message: 'must be a whole number of bytes, at most 1048576' })
  @Max(1_048_576, { message: 'must be a whole number of bytes, at most 1048576' })
  SMALL_FILE_MAX_BYTES = 65_536;

  @Integer()
  @IsInt({ message: 'must be the number of proxies in front of the service (0 for none)' })
  @Min(0, { message: 'must be the number of proxies in front of the service (0 for none)' })
  TRUST_PROXY = 0;

  /** The OpenID Connect provider whose access tokens are accepted (its `iss`, exactly). */
  @ValidateIf(
    (env: EnvironmentVariables) =>
      env.OIDC_ISSUER !== undefined ||
      env.OIDC_JWKS_URL !== undefined ||
      env.OIDC_AUDIENCE !== undefined,
  )
  @IsString({ message: 'is required when OIDC_JWKS_URL or OIDC_AUDIENCE is set' })
  @TrustedUrl('https://login.example.com/realms/main')
  OIDC_ISSUER?: string;

  /** Where the provider publishes its keys; when unset, found through OIDC_ISSUER's discovery. */
  @IsOptional()
  @TrustedUrl('https://login.example.com/realms/main/protocol/openid-connect/certs')
  OIDC_JWKS_URL?: string;

  @ValidateIf((env: EnvironmentVariables) => env.OIDC_ISSUER !== undefined)
  @IsString({
    message:
      'is required when OIDC_ISSUER is set: the aud the provider gives tokens for this service',
  })
  OIDC_AUDIENCE?: string;

  /** The claim a provisioned user's username comes from (sanitised; `sub` when it is missing). */
  @Matches(/^\S{1,128}$/, { message: 'must be a claim name' })
  OIDC_USERNAME_CLAIM = 'preferred_username';

  /** With OIDC_ADMIN_VALUE: the claim (or dotted path) that makes a provider's user an admin. */
  @IsOptional()
  @Matches(/^\S{1,128}$/, {
    message: 'must be a claim name, or a dotted path such as realm_access.roles',
  })
  OIDC_ADMIN_CLAIM?: string;

  @ValidateIf((env: EnvironmentVariables) => env.OIDC_ADMIN_CLAIM !== undefined)
  @IsString({ message: 'is required when OIDC_ADMIN_CLAIM is set: the value that means admin' })
  OIDC_ADMIN_VALUE?: string;

  /**
   * After fetching the provider's keys, how long a token with an unknown key id waits before it
   * may cause another fetch: random key ids cannot make the service hammer the provider.
   */
  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  OIDC_JWKS_COOLDOWN_SECONDS = 30;

  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 1' })
  @Min(1, { message: 'must be a whole number of seconds, at least 1' })
  SWEEP_INTERVAL_SECONDS = 900;

  /** At least a minute: a commit in flight is never younger than the sweep's cut-off by less. */
  @Integer()
  @IsInt({ message: 'must be a whole number of seconds, at least 60' })
  @Min(60, { message: 'must be a whole number of seconds, at least 60' })
  SWEEP_MIN_AGE_SECONDS = 3600;
}

/** Variables whose values never appear in an error message. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  'JWT_SECRET',
  'JWT_PREVIOUS_SECRETS',
  'LINK_SECRET',
  'LINK_PREVIOUS_SECRETS',
  'ADMIN_PASSWORD',
]);
