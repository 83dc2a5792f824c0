import type { NextFunction, Request, Response } from 'express';
import { TUS_VERSION } from './tus-headers.js';

/**
 * Every tus answer says which version it speaks, errors included; a request in another version
 * (or none) is refused before anything else, as tus 1.0 asks (OPTIONS excepted: it is how a
 * client learns the versions).
 */
export function tusProtocol(req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Tus-Resumable', TUS_VERSION);
  if (req.method === 'OPTIONS' || req.headers['tus-resumable'] === TUS_VERSION) return next();
  res.setHeader('Tus-Version', TUS_VERSION);
  res.status(412).json({
    statusCode: 412,
    error: 'Precondition Failed',
    message: `Tus-Resumable must be ${TUS_VERSION}`,
  });
}
