import {
  HttpException,
  HttpStatus,
  type CanActivate,
  type ExecutionContext,
  Injectable,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { TUS_VERSION } from './tus-headers.js';

/** Every tus answer says which version it speaks, errors (a 401 too) included. */
export function tusResumableHeader(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Tus-Resumable', TUS_VERSION);
  next();
}

/**
 * Refuses (412, with the versions spoken) a tus request in another version or none, as tus 1.0
 * asks; OPTIONS excepted, which is how a client learns the versions. After the token is checked:
 * a caller without one learns nothing else.
 */
@Injectable()
export class TusVersionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    if (req.method === 'OPTIONS' || req.headers['tus-resumable'] === TUS_VERSION) return true;
    http.getResponse<Response>().setHeader('Tus-Version', TUS_VERSION);
    throw new HttpException(`Tus-Resumable must be ${TUS_VERSION}`, HttpStatus.PRECONDITION_FAILED);
  }
}
