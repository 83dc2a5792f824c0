import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

export interface RingKey {
  /** Names the key in what it signs (a JWT's `kid`, a link's `kid`). */
  readonly id: string;
  readonly key: KeyObject;
}

/**
 * The HMAC keys of one secret being rotated: the current one, which signs, and the previous ones,
 * which still verify what they signed. Each key's id is derived from the secret itself (HKDF, so
 * it says nothing of the secret a signature does not already), which lets an operator rotate by
 * moving a value from one variable to another, with no names to invent or keep apart.
 */
export class KeyRing {
  readonly current: RingKey;
  /** Current first. */
  readonly all: readonly RingKey[];
  private readonly byId: ReadonlyMap<string, RingKey>;

  /** @param purpose keeps the ids of one secret used for two things apart */
  constructor(current: string | Buffer, previous: readonly (string | Buffer)[], purpose: string) {
    const keys = [current, ...previous].map((secret) => ringKey(secret, purpose));
    this.byId = new Map(keys.map((key) => [key.id, key]));
    this.all = [...new Map(keys.map((key) => [key.id, key])).values()];
    this.current = this.all[0];
  }

  /**
   * The keys a signature naming key `id` may be checked with; every key when it names none (it
   * was made before signatures named their key).
   */
  candidates(id: string | undefined): readonly RingKey[] {
    if (id === undefined) return this.all;
    const key = this.byId.get(id);
    return key ? [key] : [];
  }
}

function ringKey(secret: string | Buffer, purpose: string): RingKey {
  const id = Buffer.from(hkdfSync('sha256', secret, '', `${purpose} key id`, 9)).toString(
    'base64url',
  );
  // A KeyObject, not the string: given a string, jsonwebtoken first tries (and fails) to parse it
  // as a public key, on every request: a third of the CPU of a small authenticated download.
  return { id, key: createSecretKey(Buffer.from(secret)) };
}
