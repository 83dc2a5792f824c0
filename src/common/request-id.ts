import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Gives every request an id: the client's own `X-Request-Id` when it is 1-128 characters of
 * `A-Za-z0-9._-`, otherwise a new UUID. It is echoed in the response and in every log line.
 * Given before the body parsers, so even a request with a malformed body has one.
 */
export function assignRequestId(req: Request, res: Response): void {
  const sent = req.headers['x-request-id'];
  const id = typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
  (req as Request & { id: string }).id = id;
  res.setHeader('X-Request-Id', id);
}
