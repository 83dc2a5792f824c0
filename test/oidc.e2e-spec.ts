import { SignJWT } from 'jose';
import { decodeJwtClaims, forgeJwt } from './support/forge-jwt.js';
import {
  EDDSA_RESOURCE,
  ES256_RESOURCE,
  OIDC_AUDIENCE,
  OTHER_AUDIENCE,
  TestOidcProvider,
} from './support/oidc-provider.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp } from './support/test-app.js';

/** The service's OIDC settings for `provider`. */
const oidcEnv = (provider: TestOidcProvider, extra: Record<string, string> = {}) => ({
  OIDC_ISSUER: provider.issuer,
  OIDC_AUDIENCE,
  OIDC_ADMIN_CLAIM: 'groups',
  OIDC_ADMIN_VALUE: 'file-admins',
  ...extra,
});

const now = () => Math.floor(Date.now() / 1000);

describe.each(DIALECTS)('access tokens of an OpenID Connect provider (%s)', (dialect) => {
  let provider: TestOidcProvider;
  let t: TestApp;
  beforeAll(async () => {
    provider = await TestOidcProvider.start();
    t = await TestApp.start(dialect, oidcEnv(provider));
  });
  afterAll(async () => {
    await t.close();
    await provider.close();
  });

  const me = (token: string) => t.http.get('/auth/me').auth(token, { type: 'bearer' });

  describe('accepted', () => {
    it('provisions a user on first sight, named by the configured claim, and knows them again', async () => {
      const token = await provider.token('robot');
      const first = await me(token).expect(200);
      expect(first.body).toEqual({
        id: expect.any(String),
        username: 'robot',
        role: 'user',
        credential: 'oidc',
        scopes: ['files:read', 'files:write', 'images'],
        usage: { bytes: 0, files: 0 },
        quota: { bytes: null, files: null },
      });
      const again = await me(await provider.token('robot')).expect(200);
      expect(again.body.id).toBe(first.body.id);
      // A user like any other: they own what they upload.
      const upload = await t.upload(token, Buffer.from('from a machine')).expect(201);
      expect(upload.body.ownerId).toBe(first.body.id);
      await t.http.get('/admin/users').auth(token, { type: 'bearer' }).expect(403);
    });

    it('maps the configured claim to the admin role', async () => {
      const token = await provider.token('robot-admin');
      const { body } = await me(token).expect(200);
      expect(body).toMatchObject({ username: 'robot-admin', role: 'admin' });
      const users = await t.http.get('/admin/users').auth(token, { type: 'bearer' }).expect(200);
      expect(users.body.items.map((u: { username: string }) => u.username)).toContain('robot');
    });

    it.each([
      ['ES256', ES256_RESOURCE],
      ['EdDSA', EDDSA_RESOURCE],
    ])('accepts tokens signed with %s', async (alg, resource) => {
      const token = await provider.token('robot', resource);
      expect(decodeJwtClaims(`x.${token.split('.')[0]}`).alg).toBe(alg);
      await me(token).expect(200);
    });

    it('never merges a provider user into a local user of the same name', async () => {
      const admin = await t.adminToken();
      const local = await t.http
        .post('/admin/users')
        .auth(admin, { type: 'bearer' })
        .send({ username: 'taken', password: 'the-local-password', role: 'user' })
        .expect(201);
      const { body } = await me(await provider.token('name-taker')).expect(200);
      expect(body.id).not.toBe(local.body.id);
      expect(body.username).toMatch(/^taken-[0-9a-f]{8}$/);
      // Local login keeps working, and the provided user has no password to log in with.
      await t.login('taken', 'the-local-password');
      await t.http.post('/auth/login').send({ username: body.username, password: '' }).expect(400);
      await t.http
        .post('/auth/login')
        .send({ username: body.username, password: 'anything-at-all' })
        .expect(401);
    });

    it('names a user whose token lacks the claim by their subject', async () => {
      const { body } = await me(await provider.token('nameless')).expect(200);
      expect(body.username).toBe('nameless');
    });

    it('keeps local logins and API keys working beside it', async () => {
      const admin = await t.adminToken();
      await me(admin).expect(200);
      const token = await provider.token('robot');
      const { body } = await t.http
        .post('/auth/api-keys')
        .auth(token, { type: 'bearer' })
        .send({ name: 'robot key', scopes: ['files:read'] })
        .expect(201);
      const { body: keyMe } = await me(body.key).expect(200);
      expect(keyMe).toMatchObject({ username: 'robot', credential: 'api-key' });
    });
  });

  describe('refused with 401', () => {
    let genuine: string;
    beforeAll(async () => {
      genuine = await provider.token('robot');
    });

    /** A token signed with the provider's own current key: what it would issue, with `claims`. */
    const signedByProvider = (claims: Record<string, unknown>) =>
      new SignJWT({ client_id: 'robot', ...claims })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: provider.currentKey.kid })
        .sign(provider.currentKey.privateKey);
    const valid = {
      iss: () => provider.issuer,
      sub: 'robot',
      aud: OIDC_AUDIENCE,
      iat: () => now(),
      exp: () => now() + 600,
    };
    const claims = (overrides: Record<string, unknown> = {}) => ({
      iss: valid.iss(),
      sub: valid.sub,
      aud: valid.aud,
      iat: valid.iat(),
      exp: valid.exp(),
      ...overrides,
    });

    it('accepts a token made this way when nothing is wrong with it (so the ones below fail for their flaw)', async () => {
      await me(await signedByProvider(claims())).expect(200);
    });

    const bad: [string, () => Promise<string>][] = [
      [
        'a token from a second provider',
        async () => {
          const second = await TestOidcProvider.start();
          try {
            return await second.token('robot');
          } finally {
            await second.close();
          }
        },
      ],
      [
        'a token from a second provider claiming to be the first (same iss, other keys)',
        async () => {
          const impostor = await TestOidcProvider.start(provider.issuer);
          try {
            return await impostor.token('robot');
          } finally {
            await impostor.close();
          }
        },
      ],
      [
        'a tampered token (groups raised to admin)',
        () => {
          const [header, payload, signature] = genuine.split('.');
          const raised = { ...decodeJwtClaims(genuine), groups: ['file-admins'] };
          const tampered = Buffer.from(JSON.stringify(raised)).toString('base64url');
          expect(tampered).not.toBe(payload);
          return Promise.resolve(`${header}.${tampered}.${signature}`);
        },
      ],
      ['an expired token', () => signedByProvider(claims({ iat: now() - 3600, exp: now() - 600 }))],
      ['a token not valid yet (nbf)', () => signedByProvider(claims({ nbf: now() + 600 }))],
      ['a token with no exp', () => signedByProvider(claims({ exp: undefined }))],
      ['a token for another audience', () => provider.token('robot', OTHER_AUDIENCE)],
      ['a token of another issuer', () => signedByProvider(claims({ iss: 'https://evil.test' }))],
      [
        "HS256 with the provider's public key as the secret",
        async () =>
          forgeJwt(claims(), await provider.publicKeyPem(), {
            alg: 'HS256',
            typ: 'at+jwt',
            kid: provider.currentKey.kid,
          }),
      ],
      ['alg "none"', () => Promise.resolve(forgeJwt(claims(), '', { alg: 'none', typ: 'at+jwt' }))],
    ];

    it.each(bad)('%s', async (_case, make) => {
      const token = await make();
      const response = await me(token).expect(401);
      expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    });
  });
});

describe('key rotation at the provider', () => {
  let provider: TestOidcProvider;
  beforeEach(async () => {
    provider = await TestOidcProvider.start();
  });
  afterEach(() => provider.close());

  it('is picked up: a token signed with a new key is accepted once the cool-down has passed', async () => {
    const t = await TestApp.start('sqlite', oidcEnv(provider, { OIDC_JWKS_COOLDOWN_SECONDS: '1' }));
    try {
      const before = await provider.token('robot');
      await t.http.get('/auth/me').auth(before, { type: 'bearer' }).expect(200);
      await provider.rotateKeys();
      const after = await provider.token('robot');
      expect(decodeJwtClaims(`x.${after.split('.')[0]}`).kid).toBe(provider.currentKey.kid);
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (status !== 200 && Date.now() < deadline) {
        ({ status } = await t.http.get('/auth/me').auth(after, { type: 'bearer' }));
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(status).toBe(200);
      // Tokens signed with the old key, still published, keep working.
      await t.http.get('/auth/me').auth(before, { type: 'bearer' }).expect(200);
    } finally {
      await t.close();
    }
  });

  it('does not let unknown key ids make the service fetch the keys again within the cool-down', async () => {
    const t = await TestApp.start('sqlite', oidcEnv(provider));
    try {
      await t.http
        .get('/auth/me')
        .auth(await provider.token('robot'), { type: 'bearer' })
        .expect(200);
      const fetched = provider.jwksRequests;
      expect(fetched).toBe(1);
      for (let i = 0; i < 20; i++) {
        const forged = await new SignJWT({ sub: 'robot', aud: OIDC_AUDIENCE })
          .setProtectedHeader({ alg: 'RS256', kid: `unknown-${i}` })
          .setIssuer(provider.issuer)
          .setExpirationTime('10m')
          .sign(provider.currentKey.privateKey);
        await t.http.get('/auth/me').auth(forged, { type: 'bearer' }).expect(401);
      }
      expect(provider.jwksRequests).toBe(fetched);
    } finally {
      await t.close();
    }
  });

  it('answers 503 while the provider cannot be reached; local logins go on', async () => {
    const token = await provider.token('robot');
    const issuer = provider.issuer;
    await provider.close();
    const t = await TestApp.start('sqlite', {
      OIDC_ISSUER: issuer,
      OIDC_AUDIENCE,
    });
    try {
      const down = await t.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(503);
      expect(down.body).toEqual({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the identity provider cannot be reached: try again shortly',
      });
      // Local logins do not depend on it.
      await t.http
        .get('/auth/me')
        .auth(await t.adminToken(), { type: 'bearer' })
        .expect(200);
    } finally {
      await t.close();
    }
    provider = await TestOidcProvider.start();
  });

  it('uses OIDC_JWKS_URL when it is set, without discovery', async () => {
    const t = await TestApp.start('sqlite', {
      ...oidcEnv(provider),
      OIDC_JWKS_URL: `${provider.baseUrl}/jwks`,
    });
    try {
      const token = await provider.token('robot');
      await t.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(200);
      expect(provider.jwksRequests).toBe(1);
    } finally {
      await t.close();
    }
  });
});
