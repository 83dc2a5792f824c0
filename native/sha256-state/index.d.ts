declare const sha256State: {
  /** The size of a state buffer (OpenSSL's SHA256_CTX). */
  readonly stateBytes: number;
  /** Makes `state` a fresh hash. */
  init(state: Buffer): void;
  /** Hashes `bytes` on, in `state`. */
  update(state: Buffer, bytes: Uint8Array): void;
  /** The digest of what `state` has seen; `state` is left as it was. */
  digest(state: Buffer): Buffer;
};
export = sha256State;
