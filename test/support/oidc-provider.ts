import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import Provider from 'oidc-provider';

/** The audience (resource indicator) the service under test is configured with. */
export const OIDC_AUDIENCE = 'https://files.test/api';
/** Another resource server's: tokens for it must not open the service. */
export const OTHER_AUDIENCE = 'https://other.test/api';
/** Resources whose tokens carry OIDC_AUDIENCE but are signed with another algorithm. */
export const ES256_RESOURCE = 'https://files.test/api/es256';
export const EDDSA_RESOURCE = 'https://files.test/api/eddsa';

/** The claims each client's tokens carry beside the provider's own (sub is the client id). */
const CLIENT_CLAIMS: Record<string, Record<string, unknown>> = {
  robot: { preferred_username: 'robot', groups: ['staff'] },
  'robot-admin': { preferred_username: 'robot-admin', groups: ['staff', 'file-admins'] },
  'name-taker': { preferred_username: 'taken' },
  nameless: {},
};

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256' | 'EdDSA';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The private JWK, as the provider is configured with it. */
  jwk: JWK;
}

/**
 * The provider's storage (grants, tokens): a Map, as its own development adapter, declared here
 * so that it does not warn on every start that it is not for production.
 */
class InMemoryAdapter {
  private static readonly store = new Map<string, Record<string, unknown>>();

  constructor(private readonly model: string) {}

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  upsert(id: string, payload: Record<string, unknown>): Promise<void> {
    InMemoryAdapter.store.set(this.key(id), payload);
    return Promise.resolve();
  }

  find(id: string): Promise<Record<string, unknown> | undefined> {
    return Promise.resolve(InMemoryAdapter.store.get(this.key(id)));
  }

  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  consume(id: string): Promise<void> {
    const payload = InMemoryAdapter.store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    return Promise.resolve();
  }

  destroy(id: string): Promise<void> {
    InMemoryAdapter.store.delete(this.key(id));
    return Promise.resolve();
  }

  revokeByGrantId(): Promise<void> {
    return Promise.resolve();
  }
}

async function signingKey(alg: SigningKey['alg']): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg}-${randomBytes(6).toString('hex')}`;
  const jwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

/**
 * A real OpenID Connect provider (panva's oidc-provider, certified by the OpenID Foundation) on a
 * random loopback port, issuing JWT access tokens through the client-credentials grant with
 * resource indicators: no browser needed. Its keys can be rotated while it runs (a new provider
 * behind the same address and issuer), and it counts the requests for its key set.
 */
export class TestOidcProvider {
  /** Requests for the key set (`/jwks`) so far. */
  jwksRequests = 0;
  private provider!: Provider;

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    private keys: SigningKey[],
  ) {}

  /** @param issuer the `iss` to claim; its own address by default */
  static async start(issuer?: string): Promise<TestOidcProvider> {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const own = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const keys = await Promise.all([signingKey('RS256'), signingKey('ES256'), signingKey('EdDSA')]);
    const provider = new TestOidcProvider(server, issuer ?? own, keys);
    provider.provider = provider.createProvider();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/jwks') provider.jwksRequests++;
      void provider.provider.callback()(req, res);
    });
    provider.baseUrl = own;
    return provider;
  }

  /** Where the provider listens (its issuer may say otherwise). */
  baseUrl!: string;

  /** The key it signs RS256 tokens with now. */
  get currentKey(): SigningKey {
    return this.keys[0];
  }

  /** The provider's RS256 public key as PEM: what an attacker would try as an HMAC secret. */
  publicKeyPem(): Promise<string> {
    return exportSPKI(this.currentKey.publicKey);
  }

  /**
   * A new RS256 key signs from now on; the old ones are still published, as a provider rotating
   * its keys does.
   */
  async rotateKeys(): Promise<void> {
    this.keys = [await signingKey('RS256'), ...this.keys];
    this.provider = this.createProvider();
  }

  /** An access token from the token endpoint: client credentials, for `resource`. */
  async token(clientId: string, resource = OIDC_AUDIENCE): Promise<string> {
    const response = await fetch(`${this.baseUrl}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:secret-of-${clientId}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource }).toString(),
    });
    const body = (await response.json()) as { access_token?: string };
    if (!response.ok || !body.access_token) {
      throw new Error(`the provider gave no token: ${response.status} ${JSON.stringify(body)}`);
    }
    return body.access_token;
  }

  close(): Promise<void> {
    return new Promise((done) => {
      this.server.closeAllConnections();
      this.server.close(() => done());
    });
  }

  private createProvider(): Provider {
    const signingAlg = (resource: string) =>
      resource === ES256_RESOURCE ? 'ES256' : resource === EDDSA_RESOURCE ? 'EdDSA' : 'RS256';
    return new Provider(this.issuer, {
      adapter: InMemoryAdapter,
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      clients: Object.keys(CLIENT_CLAIMS).map((clientId) => ({
        client_id: clientId,
        client_secret: `secret-of-${clientId}`,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
      })),
      jwks: { keys: this.keys.map((key) => key.jwk) },
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => OIDC_AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => ({
            scope: '',
            audience: resource === OTHER_AUDIENCE ? OTHER_AUDIENCE : OIDC_AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: signingAlg(resource) } },
          }),
        },
      },
      extraTokenClaims: (_ctx, token) =>
        CLIENT_CLAIMS[(token as { clientId?: string }).clientId ?? ''] ?? {},
      ttl: { ClientCredentials: 600 },
    });
  }
}
