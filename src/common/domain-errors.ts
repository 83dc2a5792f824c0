/**
 * What went wrong, in the service's own terms: services throw these and know nothing of HTTP.
 * `AllExceptionsFilter` maps each kind to its status; the CLI prints the message.
 */
export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
}

export type DomainErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'expired'
  | 'conflict'
  | 'locked'
  | 'checksum-mismatch'
  | 'too-large'
  | 'quota-exceeded'
  | 'unsupported-type'
  | 'unprocessable'
  | 'rate-limited'
  | 'provider-unavailable'
  | 'storage-unavailable';

/** The input is malformed or out of range. */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid';
}

/** The caller is not (or no longer) who it claims: a deleted user, a bad password. */
export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';
}

/** The caller is known but may not do this. */
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

/** No such thing, or none the caller may see (which, to them, is the same). */
export class NotFoundError extends DomainError {
  readonly kind = 'not-found';
}

/** It existed, and no longer works: a link past its expiry. */
export class ExpiredError extends DomainError {
  readonly kind = 'expired';
}

/** The change contradicts the current state: a name taken, the last admin. */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

/** Someone else is working on it right now (another append to the same upload): try again. */
export class LockedError extends DomainError {
  readonly kind = 'locked';
}

/** The bytes sent are not those whose checksum came with them: nothing of them was kept. */
export class ChecksumMismatchError extends DomainError {
  readonly kind = 'checksum-mismatch';
}

/** Larger than a configured limit. */
export class TooLargeError extends DomainError {
  readonly kind = 'too-large';
}

/** The change would take its user past their storage quota (bytes or files): nothing was kept. */
export class QuotaExceededError extends DomainError {
  readonly kind = 'quota-exceeded';
}

/** Content of a type the service does not handle (bytes that are no image it knows). */
export class UnsupportedTypeError extends DomainError {
  readonly kind = 'unsupported-type';
}

/** Well-formed, but not something the service can work with (an image it cannot decode). */
export class UnprocessableError extends DomainError {
  readonly kind = 'unprocessable';
}

/** The caller tried too often: refused until `retryAfterSeconds` (whole seconds) have passed. */
export class RateLimitedError extends DomainError {
  readonly kind = 'rate-limited';

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The OpenID Connect provider cannot be reached: worth retrying later, not the caller's fault. */
export class ProviderUnavailableError extends DomainError {
  readonly kind = 'provider-unavailable';
}

/** The file store failed or cannot be reached: worth retrying later, not the caller's fault. */
export class StorageUnavailableError extends DomainError {
  readonly kind = 'storage-unavailable';
}
