import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwtClaims, forgeJwt } from './support/forge-jwt.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp } from './support/test-app.js';

const OLD = 'the-old-jwt-secret-the-old-jwt-secret-0001';
const NEW = 'the-new-jwt-secret-the-new-jwt-secret-0002';

/**
 * A secret rotated as the README says: instances restarted with the new secret and the old one
 * as previous, then, once the old tokens and links have expired, with the old one dropped. Each
 * stage is an instance of its own over the same storage folder and database.
 */
describe.each(DIALECTS)('rotating JWT_SECRET (%s)', (dialect) => {
  let before: TestApp;
  const stages: TestApp[] = [];
  async function stage(env: Record<string, string>): Promise<TestApp> {
    const app = await TestApp.startBeside(before, env);
    stages.push(app);
    return app;
  }

  let oldToken: string;
  let oldLink: URL;
  let fileId: string;
  beforeAll(async () => {
    before = await TestApp.start(dialect, { JWT_SECRET: OLD });
    oldToken = await before.adminToken();
    const upload = await before.upload(oldToken, Buffer.from('rotating')).expect(201);
    fileId = upload.body.id;
    const link = await before.http
      .post(`/files/${fileId}/links`)
      .auth(oldToken, { type: 'bearer' })
      .send({ expiresIn: 3600 })
      .expect(201);
    oldLink = new URL(link.body.url);
  });
  afterAll(async () => {
    // The stages share `before`'s storage: it goes last.
    for (const app of stages) await app.close();
    await before.close();
  });

  const get = (app: TestApp, link: URL) => app.http.get(`${link.pathname}${link.search}`);

  it('names the key in tokens and links', () => {
    expect(decodeJwtClaims(`x.${oldToken.split('.')[0]}`).kid).toEqual(expect.any(String));
    expect(oldLink.searchParams.get('kid')).toEqual(expect.any(String));
  });

  it('keeps old tokens and links working while the old secret is kept as previous', async () => {
    const during = await stage({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: OLD });
    await during.http.get('/auth/me').auth(oldToken, { type: 'bearer' }).expect(200);
    await get(during, oldLink).expect(200);

    // What it issues now is signed with the new secret, under another key id.
    const newToken = await during.adminToken();
    const newKid = decodeJwtClaims(`x.${newToken.split('.')[0]}`).kid;
    expect(newKid).not.toBe(decodeJwtClaims(`x.${oldToken.split('.')[0]}`).kid);
    await before.http.get('/auth/me').auth(newToken, { type: 'bearer' }).expect(401);
    // A token from before key ids, signed with the old secret, is tried against every key.
    const legacy = forgeJwt({ ...decodeJwtClaims(oldToken) }, OLD);
    await during.http.get('/auth/me').auth(legacy, { type: 'bearer' }).expect(200);
  });

  it('refuses them once the old secret is dropped, and keeps the new ones', async () => {
    const during = stages[0];
    const newToken = await during.adminToken();
    const newLink = await during.http
      .post(`/files/${fileId}/links`)
      .auth(newToken, { type: 'bearer' })
      .send({})
      .expect(201);

    const after = await stage({ JWT_SECRET: NEW });
    const refused = await after.http.get('/auth/me').auth(oldToken, { type: 'bearer' }).expect(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    await get(after, oldLink).expect(403);
    await after.http.get('/auth/me').auth(newToken, { type: 'bearer' }).expect(200);
    await get(after, new URL(newLink.body.url)).expect(200);
  });
});

describe('rotating LINK_SECRET, and leaving the generated JWT secret', () => {
  let before: TestApp;
  const stages: TestApp[] = [];
  async function stage(env: Record<string, string>): Promise<TestApp> {
    const app = await TestApp.startBeside(before, env);
    stages.push(app);
    return app;
  }
  afterEach(async () => {
    for (const app of stages.splice(0)) await app.close();
    await before.close();
  });

  it('keeps links signed with a previous LINK_SECRET until it is dropped', async () => {
    const first = 'link-secret-number-one-link-secret-number-one';
    const second = 'link-secret-number-two-link-secret-number-two';
    before = await TestApp.start('sqlite', { LINK_SECRET: first });
    const token = await before.adminToken();
    const { body } = await before.upload(token, Buffer.from('linked')).expect(201);
    const link = await before.http
      .post(`/files/${body.id}/links`)
      .auth(token, { type: 'bearer' })
      .send({})
      .expect(201);
    const url = new URL(link.body.url);
    const jwtSecret = before.config.jwt.secret;

    const during = await stage({
      JWT_SECRET: jwtSecret,
      LINK_SECRET: second,
      LINK_PREVIOUS_SECRETS: first,
    });
    await during.http.get(`${url.pathname}${url.search}`).expect(200);
    const after = await stage({ JWT_SECRET: jwtSecret, LINK_SECRET: second });
    await after.http.get(`${url.pathname}${url.search}`).expect(403);
  });

  it('keeps tokens signed with the generated secret when JWT_SECRET is set with it as previous', async () => {
    // No JWT_SECRET: the service generates one into STORAGE_DIR/jwt-secret (only for the
    // embedded default, SQLite and local disk: S3 and PostgreSQL require JWT_SECRET).
    before = await TestApp.start('sqlite', { STORAGE_DRIVER: 'local' });
    const token = await before.adminToken();
    const generated = (await readFile(join(before.config.storageDir, 'jwt-secret'), 'utf8')).trim();
    const during = await stage({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRETS: generated });
    await during.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(200);
    const after = await stage({ JWT_SECRET: NEW });
    await after.http.get('/auth/me').auth(token, { type: 'bearer' }).expect(401);
  });
});
