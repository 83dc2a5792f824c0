import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config.js';

describe('loadConfig', () => {
  let storageDir: string;
  beforeEach(() => (storageDir = mkdtempSync(join(tmpdir(), 'config-spec-'))));
  afterEach(() => rmSync(storageDir, { recursive: true, force: true }));

  it('has the defaults of API.md, with SQLite inside STORAGE_DIR', () => {
    const { config } = loadConfig({ STORAGE_DIR: storageDir });
    expect(config).toMatchObject({
      production: false,
      port: 3000,
      storageDir,
      database: { dialect: 'sqlite', file: join(storageDir, 'registry.sqlite') },
      jwt: { expiresInSeconds: 3600 },
      admin: { username: 'admin', password: undefined },
      uploads: { maxBytes: 1_073_741_824 },
      images: { maxBytes: 26_214_400, maxPixels: 50_000_000 },
    });
  });

  it('logs JSON lines, or pretty ones to a terminal outside production, unless LOG_FORMAT says', () => {
    const format = (env: Record<string, string>, terminal: boolean) =>
      loadConfig({ STORAGE_DIR: storageDir, JWT_SECRET: 's'.repeat(32), ...env }, terminal).config
        .logFormat;
    expect(format({}, false)).toBe('json');
    expect(format({}, true)).toBe('pretty');
    expect(format({ NODE_ENV: 'production' }, true)).toBe('json');
    expect(format({ LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(format({ LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });

  it('bounds the caches as configured, 0 turning each off', () => {
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      TOKEN_CACHE_ENTRIES: '0',
      FILE_ENTRY_CACHE_ENTRIES: '5',
      SMALL_FILE_CACHE_BYTES: '1024',
      SMALL_FILE_MAX_BYTES: '512',
    });
    expect(config.caches).toEqual({
      tokens: 0,
      fileEntries: 5,
      smallFileBytes: 1024,
      smallFileMaxBytes: 512,
    });
    expect(() => loadConfig({ STORAGE_DIR: storageDir, SMALL_FILE_MAX_BYTES: '2000000' })).toThrow(
      'SMALL_FILE_MAX_BYTES must be a whole number of bytes, at most 1048576',
    );
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ STORAGE_DIR: storageDir, PORT: '' }).config.port).toBe(3000);
  });

  it('generates the JWT secret once, keeps it in STORAGE_DIR, and warns', () => {
    const first = loadConfig({ STORAGE_DIR: storageDir });
    const second = loadConfig({ STORAGE_DIR: storageDir });
    expect(first.config.jwt.secret).toHaveLength(64);
    expect(second.config.jwt.secret).toBe(first.config.jwt.secret);
    expect(readFileSync(join(storageDir, 'jwt-secret'), 'utf8').trim()).toBe(
      first.config.jwt.secret,
    );
    expect(first.warnings).toEqual([expect.stringContaining('JWT_SECRET is not set')]);
  });

  it('writes the generated secret readable by its owner only, whole, and nothing else', () => {
    const { config } = loadConfig({ STORAGE_DIR: storageDir });
    const file = join(storageDir, 'jwt-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.byteLength(readFileSync(file, 'utf8').trim())).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8')).toBe(`${config.jwt.secret}\n`);
    // The temp file it was written through is gone.
    expect(readdirSync(storageDir)).toEqual(['jwt-secret']);
  });

  it('keeps a secret file that is there already', () => {
    const secret = 's'.repeat(40);
    writeFileSync(join(storageDir, 'jwt-secret'), `${secret}\n`, { mode: 0o600 });
    expect(loadConfig({ STORAGE_DIR: storageDir }).config.jwt.secret).toBe(secret);
    expect(readFileSync(join(storageDir, 'jwt-secret'), 'utf8')).toBe(`${secret}\n`);
  });

  it.each([
    ['empty', ''],
    ['blank', ' \n'],
    ['31 bytes', `${'s'.repeat(31)}\n`],
  ])('refuses to start on a secret file that is %s, and leaves it alone', (_case, content) => {
    const file = join(storageDir, 'jwt-secret');
    writeFileSync(file, content, { mode: 0o600 });
    let error: unknown;
    try {
      loadConfig({ STORAGE_DIR: storageDir });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(
        new RegExp(`^${file} holds a JWT secret of \\d+ bytes, fewer than the 32 required`),
      ),
    ]);
    expect(readFileSync(file, 'utf8')).toBe(content);
  });

  it('uses JWT_SECRET when set, and derives a different key for download links', () => {
    const secret = 'x'.repeat(32);
    const { config, warnings } = loadConfig({ STORAGE_DIR: storageDir, JWT_SECRET: secret });
    expect(config.jwt.secret).toBe(secret);
    expect(warnings).toEqual([]);
    expect(config.linkSecret).toHaveLength(32);
    expect(config.linkSecret.toString()).not.toContain(secret);
  });

  it('reads previous secrets, and derives a link key from each JWT secret when LINK_SECRET is unset', () => {
    const [current, old1, old2] = ['c', 'o', 'p'].map((c) => c.repeat(32));
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: current,
      JWT_PREVIOUS_SECRETS: ` ${old1}, ${old2} `,
    });
    expect(config.jwt).toMatchObject({ secret: current, previousSecrets: [old1, old2] });
    expect(config.previousLinkSecrets).toHaveLength(2);
    const withOld1 = loadConfig({ STORAGE_DIR: storageDir, JWT_SECRET: old1 }).config;
    expect(config.previousLinkSecrets[0]).toEqual(withOld1.linkSecret);
  });

  it('takes previous link secrets with LINK_SECRET, and only with it', () => {
    const [link, oldLink] = ['l', 'm'].map((c) => c.repeat(32));
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_PREVIOUS_SECRETS: 'o'.repeat(32),
      LINK_SECRET: link,
      LINK_PREVIOUS_SECRETS: oldLink,
    });
    expect(config.linkSecret).toEqual(Buffer.from(link));
    expect(config.previousLinkSecrets).toEqual([Buffer.from(oldLink)]);
    expect(() => loadConfig({ STORAGE_DIR: storageDir, LINK_PREVIOUS_SECRETS: oldLink })).toThrow(
      /LINK_PREVIOUS_SECRETS needs LINK_SECRET/,
    );
  });

  it('reads the OpenID Connect settings', () => {
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      OIDC_ISSUER: 'https://login.example.com/realms/main',
      OIDC_AUDIENCE: 'https://files.example.com',
      OIDC_ADMIN_CLAIM: 'realm_access.roles',
      OIDC_ADMIN_VALUE: 'file-admin',
    });
    expect(config.oidc).toEqual({
      issuer: 'https://login.example.com/realms/main',
      jwksUrl: undefined,
      audience: 'https://files.example.com',
      usernameClaim: 'preferred_username',
      adminClaim: { name: 'realm_access.roles', value: 'file-admin' },
      jwksCooldownSeconds: 30,
    });
    expect(loadConfig({ STORAGE_DIR: storageDir }).config.oidc).toBeUndefined();
  });

  it('reports inconsistent OpenID Connect and rotation settings', () => {
    let error: unknown;
    try {
      loadConfig({
        STORAGE_DIR: storageDir,
        JWT_PREVIOUS_SECRETS: `${'o'.repeat(32)},short`,
        OIDC_ISSUER: 'http://login.example.com',
        OIDC_JWKS_URL: 'https://login.example.com/keys?x=1',
        OIDC_ADMIN_CLAIM: 'groups',
        OIDC_JWKS_COOLDOWN_SECONDS: '0',
      });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual([
      'JWT_PREVIOUS_SECRETS must be a comma-separated list of secrets of at least 32 bytes each (value hidden)',
      'OIDC_ISSUER must be an https URL (http only on localhost), e.g. https://login.example.com/realms/main (got "http://login.example.com")',
      'OIDC_JWKS_URL must be an https URL (http only on localhost), e.g. https://login.example.com/realms/main/protocol/openid-connect/certs (got "https://login.example.com/keys?x=1")',
      'OIDC_AUDIENCE is required when OIDC_ISSUER is set: the aud the provider gives tokens for this service',
      'OIDC_ADMIN_VALUE is required when OIDC_ADMIN_CLAIM is set: the value that means admin',
      'OIDC_JWKS_COOLDOWN_SECONDS must be a whole number of seconds, at least 1 (got "0")',
    ]);
    expect(() =>
      loadConfig({ STORAGE_DIR: storageDir, OIDC_AUDIENCE: 'https://files.example.com' }),
    ).toThrow(/OIDC_ISSUER is required when OIDC_JWKS_URL or OIDC_AUDIENCE is set/);
  });

  it('reads a PostgreSQL URL', () => {
    const url = 'postgres://app:pw@db:5432/files';
    const env = { STORAGE_DIR: storageDir, DATABASE_URL: url, JWT_SECRET: 'x'.repeat(32) };
    expect(loadConfig(env).config.database).toEqual({
      dialect: 'postgres',
      url,
    });
  });

  it('requires JWT_SECRET with PostgreSQL or S3, where instances share the work', () => {
    expect(() =>
      loadConfig({ STORAGE_DIR: storageDir, DATABASE_URL: 'postgres://db/files' }),
    ).toThrow(
      'JWT_SECRET is required with PostgreSQL: instances sharing the work must share the secret',
    );
    expect(() =>
      loadConfig({ STORAGE_DIR: storageDir, STORAGE_DRIVER: 's3', S3_BUCKET: 'files' }),
    ).toThrow(
      'JWT_SECRET is required with STORAGE_DRIVER=s3: instances sharing the work must share the secret',
    );
  });

  it('reads the S3 settings, and refuses a presigned redirect without S3', () => {
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      JWT_SECRET: 'x'.repeat(32),
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'files',
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_PREFIX: 'service/',
      DOWNLOAD_REDIRECT: 'presigned',
    });
    expect(config.storage).toEqual({
      driver: 's3',
      bucket: 'files',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
      prefix: 'service/',
      partSizeBytes: 8 * 2 ** 20,
      queueSize: 4,
    });
    expect(config.downloadRedirect).toEqual({ mode: 'presigned', ttlSeconds: 60 });
    expect(() => loadConfig({ STORAGE_DIR: storageDir, DOWNLOAD_REDIRECT: 'presigned' })).toThrow(
      'DOWNLOAD_REDIRECT can be presigned only with STORAGE_DRIVER=s3',
    );
    expect(() =>
      loadConfig({ STORAGE_DIR: storageDir, STORAGE_DRIVER: 's3', JWT_SECRET: 'x'.repeat(32) }),
    ).toThrow('S3_BUCKET must be a bucket name');
  });

  it('reads the audit trail settings, with their defaults', () => {
    expect(loadConfig({ STORAGE_DIR: storageDir }).config.audit).toEqual({
      enabled: true,
      queueLimit: 10_000,
      retentionDays: 90,
    });
    const { config } = loadConfig({
      STORAGE_DIR: storageDir,
      AUDIT_ENABLED: 'false',
      AUDIT_QUEUE_LIMIT: '500',
      AUDIT_RETENTION_DAYS: '0',
    });
    expect(config.audit).toEqual({ enabled: false, queueLimit: 500, retentionDays: 0 });
    expect(() =>
      loadConfig({ STORAGE_DIR: storageDir, AUDIT_ENABLED: 'no', AUDIT_QUEUE_LIMIT: '0' }),
    ).toThrow(
      'AUDIT_ENABLED must be true or false (got "no")\n' +
        'AUDIT_QUEUE_LIMIT must be a positive integer (events) (got "0")',
    );
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        STORAGE_DIR: storageDir,
        PORT: '0',
        JWT_EXPIRES_IN: '10',
        ADMIN_USERNAME: 'a b',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'PORT must be an integer from 1 to 65535 (got "0")',
      'JWT_EXPIRES_IN must be a whole number of seconds from 60 to 2592000 (30 days) (got "10")',
      'ADMIN_USERNAME must be 1-64 characters of A-Za-z0-9._- (got "a b")',
    ]);
  });
});
