import { DIALECTS } from './support/test-database.js';
import { ADMIN, TestApp } from './support/test-app.js';
import { decodeJwtClaims, forgeJwt } from './support/forge-jwt.js';

describe.each(DIALECTS)('auth (%s)', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
  });
  afterAll(() => t.close());

  describe('POST /auth/login', () => {
    it('gives the bootstrap admin a bearer token that /auth/me accepts', async () => {
      const { body } = await t.http.post('/auth/login').send(ADMIN).expect(200);
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 3600,
      });
      const me = await t.http
        .get('/auth/me')
        .auth(body.access_token, { type: 'bearer' })
        .expect(200);
      expect(me.body).toEqual({
        id: expect.any(String),
        username: 'admin',
        role: 'admin',
        credential: 'session',
        scopes: ['files:read', 'files:write', 'images', 'admin'],
        usage: { bytes: 0, files: 0 },
        quota: { bytes: null, files: null },
      });
    });

    it('answers an unknown user and a wrong password alike', async () => {
      const unknown = await t.http.post('/auth/login').send({ username: 'nobody', password: 'x' });
      const wrong = await t.http.post('/auth/login').send({ username: 'admin', password: 'wrong' });
      expect(unknown.status).toBe(401);
      expect(wrong.status).toBe(401);
      expect(unknown.body).toEqual(wrong.body);
      expect(wrong.body).toEqual({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'wrong username or password',
      });
    });

    it('names the Bearer scheme on a wrong-password 401 (RFC 9110: every 401 does)', async () => {
      const wrong = await t.http
        .post('/auth/login')
        .send({ ...ADMIN, password: 'wrong' })
        .expect(401);
      expect(wrong.headers['www-authenticate']).toBe('Bearer');
    });

    it.each([
      ['a missing password', { username: 'admin' }],
      ['a number for a name', { username: 42, password: 'x' }],
      ['an unknown property', { ...ADMIN, remember: true }],
    ])('rejects %s with 400 JSON', async (_case, body) => {
      const response = await t.http.post('/auth/login').send(body).expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(response.body.message).toEqual(expect.any(Array));
    });

    it('rejects malformed JSON with 400 JSON', async () => {
      const response = await t.http
        .post('/auth/login')
        .set('Content-Type', 'application/json')
        .send('{"username": "admin",')
        .expect(400)
        .expect('Content-Type', /application\/json/);
      expect(response.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.any(String),
      });
    });
  });

  describe('bearer tokens', () => {
    let valid: string;
    let claims: Record<string, unknown>;
    const secret = () => t.config.jwt.secret;
    const now = () => Math.floor(Date.now() / 1000);
    beforeAll(async () => {
      valid = await t.adminToken();
      claims = decodeJwtClaims(valid);
    });

    it('pins the algorithm, issuer and audience in what it issues, and names its key', () => {
      const header = decodeJwtClaims(`x.${valid.split('.')[0]}`);
      expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: expect.stringMatching(/^\S{12}$/) });
      expect(claims).toMatchObject({ iss: 'file-delivery-service', aud: 'file-delivery-service' });
    });

    it('accepts a token without a key id (issued before tokens named their key)', async () => {
      await t.http.get('/auth/me').auth(forgeJwt(claims, secret()), { type: 'bearer' }).expect(200);
    });

    const bad: [string, () => string][] = [
      ['alg "none"', () => forgeJwt(claims, '', { alg: 'none', typ: 'JWT' })],
      ['a wrong signature', () => forgeJwt(claims, 'not-the-secret-not-the-secret-not-the-secret')],
      [
        'a tampered payload',
        () => {
          const [header, , signature] = valid.split('.');
          const payload = Buffer.from(JSON.stringify({ ...claims, ver: 7 })).toString('base64url');
          return `${header}.${payload}.${signature}`;
        },
      ],
      [
        'an expired token',
        () => forgeJwt({ ...claims, iat: now() - 7200, exp: now() - 3600 }, secret()),
      ],
      ['a wrong issuer', () => forgeJwt({ ...claims, iss: 'someone-else' }, secret())],
      ['a wrong audience', () => forgeJwt({ ...claims, aud: 'someone-else' }, secret())],
      [
        'another algorithm (HS512 header)',
        () => forgeJwt(claims, secret(), { alg: 'HS512', typ: 'JWT' }),
      ],
      [
        'a key id that is not ours, though signed with our secret',
        () => forgeJwt(claims, secret(), { alg: 'HS256', typ: 'JWT', kid: 'someone-else' }),
      ],
      ['something shaped like an API key', () => `fds_${'A'.repeat(43)}`],
      ['garbage', () => 'not.a.jwt'],
    ];

    it.each(bad)('refuses %s with 401 and WWW-Authenticate: Bearer', async (_case, token) => {
      const response = await t.http.get('/auth/me').auth(token(), { type: 'bearer' }).expect(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    });

    it('accepts the same claims when correctly signed (the forgeries above fail for their flaw)', async () => {
      await t.http.get('/auth/me').auth(forgeJwt(claims, secret()), { type: 'bearer' }).expect(200);
    });

    it('asks for a token when none is sent', async () => {
      const response = await t.http.get('/auth/me').expect(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.body.message).toBe('a bearer token is required');
    });
  });

  describe('revocation', () => {
    it('refuses the tokens of a user whose password changed, at once on this instance', async () => {
      const admin = await t.adminToken();
      const user = await t.createUser('user', admin);
      await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(200);
      await t.http
        .patch(`/admin/users/${user.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ password: 'a-brand-new-password' })
        .expect(200);
      await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(401);
      const fresh = await t.login(user.username, 'a-brand-new-password');
      await t.http.get('/auth/me').auth(fresh, { type: 'bearer' }).expect(200);
    });

    it('refuses the tokens of a user whose role changed', async () => {
      const admin = await t.adminToken();
      const user = await t.createUser('user', admin);
      await t.http
        .patch(`/admin/users/${user.id}`)
        .auth(admin, { type: 'bearer' })
        .send({ role: 'admin' })
        .expect(200);
      await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(401);
    });

    it('refuses the tokens of a deleted user', async () => {
      const admin = await t.adminToken();
      const user = await t.createUser('user', admin);
      await t.http.delete(`/admin/users/${user.id}`).auth(admin, { type: 'bearer' }).expect(204);
      await t.http.get('/auth/me').auth(user.token, { type: 'bearer' }).expect(401);
    });
  });

  describe('roles', () => {
    it('gives a user 403 on an admin route', async () => {
      const user = await t.createUser('user');
      const response = await t.http
        .get('/admin/users')
        .auth(user.token, { type: 'bearer' })
        .expect(403);
      expect(response.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    });
  });
});

describe.each(DIALECTS)('login rate limits (%s)', (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await TestApp.start(dialect);
  });
  afterEach(() => t.close());

  it('blocks a username for this client after 10 failures, even with the right password', async () => {
    for (let i = 0; i < 10; i++) {
      await t.http
        .post('/auth/login')
        .send({ ...ADMIN, password: `wrong-${i}` })
        .expect(401);
    }
    const blocked = await t.http.post('/auth/login').send(ADMIN).expect(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(800);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(900);
    expect(blocked.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    // Another username from the same client is not blocked.
    await t.http.post('/auth/login').send({ username: 'someone', password: 'x' }).expect(401);
  });

  it('counts a burst of wrong passwords as it arrives, not once verified: 10 × 401, 40 × 429', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.http.post('/auth/login').send({ ...ADMIN, password: `wrong-${i}` }),
      ),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40);
    for (const refused of responses.filter((response) => response.status === 429)) {
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(800);
    }
  });

  it('does not count successful logins', async () => {
    for (let i = 0; i < 9; i++) {
      await t.http
        .post('/auth/login')
        .send({ ...ADMIN, password: `wrong-${i}` })
        .expect(401);
    }
    // Each attempt is counted before it is verified: a success must be taken back, every time.
    for (let i = 0; i < 5; i++) await t.http.post('/auth/login').send(ADMIN).expect(200);
    await t.http
      .post('/auth/login')
      .send({ ...ADMIN, password: 'wrong-again' })
      .expect(401);
    await t.http
      .post('/auth/login')
      .send({ ...ADMIN, password: 'wrong-again' })
      .expect(429);
  });

  it('caps every client at 60 login attempts a minute', async () => {
    for (let i = 0; i < 60; i++) {
      const username = `probe${i}`;
      await t.http.post('/auth/login').send({ username, password: 'x' }).expect(401);
    }
    const capped = await t.http.post('/auth/login').send(ADMIN).expect(429);
    expect(Number(capped.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(capped.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(capped.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
  });
});
