import { hkdfSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { EnvironmentVariables, SECRET_VARIABLES, secretList } from './environment-variables.js';

export type DatabaseConfig =
  | { readonly dialect: 'sqlite'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string };

/** The service's configuration, validated once at start-up. Inject it by its class. */
export class AppConfig {
  readonly production!: boolean;
  readonly port!: number;
  /** Absolute path of the runtime data folder: stored files, temp files, SQLite, secrets. */
  readonly storageDir!: string;
  readonly database!: DatabaseConfig;
  readonly jwt!: {
    /** Signs new tokens. */
    readonly secret: string;
    /** Earlier secrets: the tokens they signed are still accepted (a rotation in progress). */
    readonly previousSecrets: readonly string[];
    readonly expiresInSeconds: number;
  };
  /** Key of the HMAC that signs new download links. */
  readonly linkSecret!: Buffer;
  /** Earlier link keys: the links they signed still work. */
  readonly previousLinkSecrets!: readonly Buffer[];
  /** The OpenID Connect provider whose access tokens are accepted; none when unset. */
  readonly oidc?: OidcConfig;
  readonly admin!: { readonly username: string; readonly password?: string };
  readonly uploads!: {
    readonly maxBytes: number;
    /** An upload whose client sends nothing for this long is answered 408 and removed. */
    readonly idleTimeoutSeconds: number;
    /** A resumable upload that makes no progress for this long expires. */
    readonly expiryMs: number;
  };
  /** File lifetimes: the longest one a file may be given; undefined when there is no cap. */
  readonly fileExpiry!: { readonly maxTtlSeconds: number | undefined };
  /** Each user's quota unless an admin sets theirs (`quotas/`); null: no limit. */
  readonly quotas!: { readonly defaultBytes: number | null; readonly defaultFiles: number | null };
  readonly images!: {
    readonly maxBytes: number;
    readonly maxPixels: number;
    /** Most pixels of an image blurred into AVIF, whose encoder needs the most memory. */
    readonly maxAvifPixels: number;
    /** Images processed at once (the concurrency gate's slots). */
    readonly concurrency: number;
    /** Images that may wait for a slot; past that, 503. */
    readonly queueLimit: number;
    readonly queueTimeoutMs: number;
    readonly timeoutSeconds: number;
    /** Bytes of working memory all images in progress may reserve at once. */
    readonly memoryBudgetBytes: number;
    /** Image requests one user may have holding or waiting for a slot; past that, 429. */
    readonly perUserLimit: number;
    /** Longest an image upload may take to arrive once it holds a slot. */
    readonly uploadTimeoutSeconds: number;
  };
  /** Password verifications that run at once (argon2 shares libuv's thread pool with file I/O). */
  readonly loginConcurrency!: number;
  readonly downloads!: {
    /** A download whose client reads nothing for this long is ended and its file released. */
    readonly idleTimeoutSeconds: number;
    readonly perUser: number;
    readonly perLink: number;
  };
  /** Origin (and optional path prefix) of the links the service hands out, without a trailing slash. */
  readonly publicBaseUrl?: string;
  readonly logLevel!: string;
  /** How log lines are written: JSON objects, or human-readable lines for a terminal. */
  readonly logFormat!: 'json' | 'pretty';
  /**
   * What is kept in memory to answer repeated requests (0 disables each). Entries that another
   * instance may change are kept for AUTH_STATE_TTL_MS at most, and evicted at once here.
   */
  readonly caches!: {
    /** Verified bearer tokens, each until it expires. */
    readonly tokens: number;
    /** Registry entries of files, for downloads. */
    readonly fileEntries: number;
    /** Total bytes of small files kept. */
    readonly smallFileBytes: number;
    /** The largest file kept. */
    readonly smallFileMaxBytes: number;
  };
  /** Number of reverse proxies whose X-Forwarded-For is trusted (Express "trust proxy"). */
  readonly trustProxy!: number;
  readonly sweeper!: { readonly intervalSeconds: number; readonly minAgeSeconds: number };
  /** Where stored bytes live. */
  readonly storage!: StorageConfig;
  /** How downloads hand out the bytes: through the service, or by a redirect to the store. */
  readonly downloadRedirect!:
    { readonly mode: 'none' } | { readonly mode: 'presigned'; readonly ttlSeconds: number };
  /** The token `GET /metrics` asks for; metrics are off (not even measured) when unset. */
  readonly metricsToken?: string;
  /** The audit trail (src/audit): whether it records, its queue's bound, how long events stay. */
  readonly audit!: {
    readonly enabled: boolean;
    readonly queueLimit: number;
    /** 0: kept for ever. */
    readonly retentionDays: number;
  };

  constructor(values: AppConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export type StorageConfig = { readonly driver: 'local' } | ({ readonly driver: 's3' } & S3Config);

/** An S3-compatible bucket. Credentials come from the AWS SDK's default chain, never from here. */
export interface S3Config {
  readonly bucket: string;
  /** Unset: AWS S3 itself. */
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  /** Prepended to every key: empty, or ending in `/`. */
  readonly prefix: string;
  readonly partSizeBytes: number;
  readonly queueSize: number;
}

export interface OidcConfig {
  /** Tokens must carry exactly this `iss`. */
  readonly issuer: string;
  /** Where the signing keys are; when unset, the `jwks_uri` of the issuer's discovery document. */
  readonly jwksUrl?: string;
  /** Tokens must carry this `aud`. */
  readonly audience: string;
  /** The claim a provisioned user's username is made from. */
  readonly usernameClaim: string;
  /** The claim (a name, or a dotted path) and value that make a user an admin; none when unset. */
  readonly adminClaim?: { readonly name: string; readonly value: string };
  /** Least time between two fetches of the keys caused by tokens with an unknown key id. */
  readonly jwksCooldownSeconds: number;
}

/** Thrown by `loadConfig()`: one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.join('\n')}`);
  }
}

export interface LoadedConfig {
  config: AppConfig;
  /** Things the operator should know, logged once the logger is up. */
  warnings: string[];
}

const ENV_NAMES = Object.keys(new EnvironmentVariables()).concat(
  'DATABASE_URL',
  'JWT_SECRET',
  'LINK_SECRET',
  'ADMIN_PASSWORD',
);

/**
 * Reads and validates the environment. Outside production, a missing JWT_SECRET is generated once
 * and kept in STORAGE_DIR, so tokens survive restarts.
 * @throws ConfigError listing every bad variable
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  stdoutIsTerminal = process.stdout.isTTY === true,
): LoadedConfig {
  // An empty variable counts as unset: compose files often pass `VAR=${VAR:-}`.
  const given = Object.fromEntries(
    ENV_NAMES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [
      name,
      env[name],
    ]),
  );
  const vars = plainToInstance(EnvironmentVariables, given);
  const problems = validateSync(vars).map(({ property, constraints }) => {
    // class-validator checks a property's decorators bottom-up, so the last failure reported is
    // the top-most decorator: the basic one ("is required", "must be an integer").
    const message = Object.values(constraints ?? {}).at(-1) ?? 'is invalid';
    return `${property} ${message}${describeValue(property, given[property])}`;
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const warnings: string[] = [];
  const storageDir = resolve(vars.STORAGE_DIR);
  // Readable by the service's user alone: it holds password hashes, secrets and every stored file.
  mkdirSync(storageDir, { recursive: true, mode: 0o700 });

  let jwtSecret = vars.JWT_SECRET;
  if (jwtSecret === undefined) {
    jwtSecret = loadOrCreateSecret(join(storageDir, 'jwt-secret'));
    warnings.push(
      `JWT_SECRET is not set: using the secret generated in ${join(storageDir, 'jwt-secret')}. ` +
        'Set JWT_SECRET (32 bytes or more) in production.',
    );
  }

  const previousSecrets = secretList(vars.JWT_PREVIOUS_SECRETS);
  const imageConcurrency = vars.IMAGE_CONCURRENCY || availableParallelism();
  const config = new AppConfig({
    production: vars.NODE_ENV === 'production',
    port: vars.PORT,
    storageDir,
    database: parseDatabaseUrl(vars.DATABASE_URL, storageDir),
    jwt: { secret: jwtSecret, previousSecrets, expiresInSeconds: vars.JWT_EXPIRES_IN },
    // Without a LINK_SECRET of their own, links have keys derived from the JWT secrets, so they
    // rotate together.
    linkSecret: vars.LINK_SECRET ? Buffer.from(vars.LINK_SECRET) : linkKeyFrom(jwtSecret),
    previousLinkSecrets: vars.LINK_SECRET
      ? secretList(vars.LINK_PREVIOUS_SECRETS).map((secret) => Buffer.from(secret))
      : previousSecrets.map(linkKeyFrom),
    oidc: vars.OIDC_ISSUER
      ? {
          issuer: vars.OIDC_ISSUER,
          jwksUrl: vars.OIDC_JWKS_URL,
          audience: vars.OIDC_AUDIENCE!,
          usernameClaim: vars.OIDC_USERNAME_CLAIM,
          adminClaim: vars.OIDC_ADMIN_CLAIM
            ? { name: vars.OIDC_ADMIN_CLAIM, value: vars.OIDC_ADMIN_VALUE! }
            : undefined,
          jwksCooldownSeconds: vars.OIDC_JWKS_COOLDOWN_SECONDS,
        }
      : undefined,
    admin: { username: vars.ADMIN_USERNAME, password: vars.ADMIN_PASSWORD },
    uploads: {
      maxBytes: vars.MAX_UPLOAD_BYTES,
      idleTimeoutSeconds: vars.UPLOAD_IDLE_TIMEOUT_SECONDS,
      expiryMs: vars.UPLOAD_EXPIRY_HOURS * 3_600_000,
    },
    fileExpiry: { maxTtlSeconds: vars.MAX_FILE_TTL_SECONDS },
    quotas: {
      defaultBytes: vars.DEFAULT_QUOTA_BYTES ?? null,
      defaultFiles: vars.DEFAULT_QUOTA_FILES ?? null,
    },
    images: {
      maxBytes: vars.MAX_IMAGE_BYTES,
      maxPixels: vars.MAX_IMAGE_PIXELS,
      maxAvifPixels: vars.IMAGE_MAX_AVIF_PIXELS,
      concurrency: imageConcurrency,
      queueLimit: vars.IMAGE_QUEUE_LIMIT === -1 ? 2 * imageConcurrency : vars.IMAGE_QUEUE_LIMIT,
      queueTimeoutMs: vars.IMAGE_QUEUE_TIMEOUT_MS,
      timeoutSeconds: vars.IMAGE_TIMEOUT_SECONDS,
      memoryBudgetBytes:
        (vars.IMAGE_MEMORY_BUDGET_MB || Math.floor(memoryLimitBytes() / 4 / 2 ** 20)) * 2 ** 20,
      perUserLimit: vars.IMAGE_USER_LIMIT || 2 * imageConcurrency,
      uploadTimeoutSeconds: vars.IMAGE_UPLOAD_TIMEOUT_SECONDS,
    },
    loginConcurrency: vars.LOGIN_CONCURRENCY,
    downloads: {
      idleTimeoutSeconds: vars.DOWNLOAD_IDLE_TIMEOUT_SECONDS,
      perUser: vars.DOWNLOADS_PER_USER,
      perLink: vars.DOWNLOADS_PER_LINK,
    },
    publicBaseUrl: vars.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    logLevel: vars.LOG_LEVEL,
    logFormat:
      vars.LOG_FORMAT === 'auto'
        ? stdoutIsTerminal && vars.NODE_ENV !== 'production'
          ? 'pretty'
          : 'json'
        : (vars.LOG_FORMAT as 'json' | 'pretty'),
    caches: {
      tokens: vars.TOKEN_CACHE_ENTRIES,
      fileEntries: vars.FILE_ENTRY_CACHE_ENTRIES,
      smallFileBytes: vars.SMALL_FILE_CACHE_BYTES,
      smallFileMaxBytes: vars.SMALL_FILE_MAX_BYTES,
    },
    trustProxy: vars.TRUST_PROXY,
    sweeper: {
      intervalSeconds: vars.SWEEP_INTERVAL_SECONDS,
      minAgeSeconds: vars.SWEEP_MIN_AGE_SECONDS,
    },
    storage:
      vars.STORAGE_DRIVER === 's3'
        ? {
            driver: 's3',
            bucket: vars.S3_BUCKET!,
            endpoint: vars.S3_ENDPOINT?.replace(/\/$/, ''),
            region: vars.S3_REGION,
            forcePathStyle: vars.S3_FORCE_PATH_STYLE === 'true',
            prefix: vars.S3_PREFIX,
            partSizeBytes: vars.S3_PART_SIZE_MB * 2 ** 20,
            queueSize: vars.S3_UPLOAD_QUEUE_SIZE,
          }
        : { driver: 'local' },
    downloadRedirect:
      vars.DOWNLOAD_REDIRECT === 'presigned'
        ? { mode: 'presigned', ttlSeconds: vars.DOWNLOAD_REDIRECT_TTL_SECONDS }
        : { mode: 'none' },
    metricsToken: vars.METRICS_TOKEN,
    audit: {
      enabled: vars.AUDIT_ENABLED === 'true',
      queueLimit: vars.AUDIT_QUEUE_LIMIT,
      retentionDays: vars.AUDIT_RETENTION_DAYS,
    },
  });
  return { config, warnings };
}

/** The download-link key that goes with a JWT secret when LINK_SECRET is unset. */
function linkKeyFrom(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', jwtSecret, '', 'file-service download links', 32));
}

/**
 * The memory this process may use: the container's limit (cgroup v2, then v1) when there is one,
 * else the machine's.
 */
function memoryLimitBytes(): number {
  const machine = totalmem();
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const limit = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(limit) && limit > 0 && limit < machine) return limit;
    } catch {
      // no such controller here
    }
  }
  return machine;
}

function parseDatabaseUrl(url: string | undefined, storageDir: string): DatabaseConfig {
  if (url === undefined) return { dialect: 'sqlite', file: join(storageDir, 'registry.sqlite') };
  if (url.startsWith('sqlite:')) return { dialect: 'sqlite', file: resolve(url.slice(7)) };
  return { dialect: 'postgres', url };
}

/** What the operator set, quoted, with secrets and URL passwords left out. */
function describeValue(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  if (SECRET_VARIABLES.has(name)) return ' (value hidden)';
  return ` (got ${JSON.stringify(value.replace(/\/\/[^@/]*@/, '//***@'))})`;
}

/** The least a generated or stored JWT secret may hold, as for JWT_SECRET. */
const MIN_SECRET_BYTES = 32;

/**
 * The secret kept in `path`, generated there if there is none. Two processes starting at once on
 * a fresh STORAGE_DIR end up with the same secret: whichever links its file first wins, and the
 * other reads it.
 * @throws ConfigError when the file holds fewer than 32 bytes (tokens would be signed with a
 * guessable key)
 */
function loadOrCreateSecret(path: string): string {
  return readSecret(path) ?? createSecret(path);
}

/** The secret in `path`, or undefined when there is no such file. */
function readSecret(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const secret = text.trim();
  const bytes = Buffer.byteLength(secret);
  if (bytes < MIN_SECRET_BYTES) {
    throw new ConfigError([
      `${path} holds a JWT secret of ${bytes} bytes, fewer than the ${MIN_SECRET_BYTES} required: ` +
        'set JWT_SECRET, or delete the file to have a new secret generated ' +
        '(tokens issued so far then stop working)',
    ]);
  }
  return secret;
}

/**
 * Writes a new secret to `path` without ever exposing a partial file or replacing an existing
 * one: the whole secret goes to a temp file beside it, is fsynced, and is then hard-linked to
 * `path`, which fails if `path` exists. A crash leaves either no secret or a whole one.
 */
function createSecret(path: string): string {
  const secret = randomBytes(48).toString('base64url');
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}-${randomBytes(8).toString('hex')}.tmp`);
  try {
    writeDurably(temp, `${secret}\n`);
    try {
      linkSync(temp, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another process linked its secret first: everyone must sign with that one.
      const theirs = readSecret(path);
      if (theirs === undefined) throw error;
      return theirs;
    }
    fsyncFolder(dir);
    return secret;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Creates `path` (never replacing a file) readable by its owner only, and fsyncs `text` into it. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A folder's entries survive a crash only once the folder itself is fsynced. */
function fsyncFolder(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
