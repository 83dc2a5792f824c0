import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id with the library's defaults (19 MiB, 2 passes, 1 lane: OWASP's recommended minimum).
 * The algorithm is the library's default; its `Algorithm` enum is a `const enum`, which
 * isolated-module builds cannot reference.
 */
@Injectable()
export class PasswordHasher {
  /** Verified against when a username is unknown, so both failures cost the same time. */
  private readonly decoy = hash('not the password of anyone');

  hash(password: string): Promise<string> {
    return hash(password);
  }

  async verify(passwordHash: string | undefined, password: string): Promise<boolean> {
    const matches = await verify(passwordHash ?? (await this.decoy), password).catch(() => false);
    return matches && passwordHash !== undefined;
  }
}
