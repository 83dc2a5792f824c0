/**
 * How long an instance may act on state that another instance can change (a user's role and
 * token version, an API key, a file's registry entry) before reading it again: the delay within
 * which a revocation or a deletion made elsewhere is seen (API.md allows 60 seconds). A change
 * made through this instance evicts its own copy at once.
 */
export const AUTH_STATE_TTL_MS = 30_000;
