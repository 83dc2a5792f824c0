import type { Writable } from 'node:stream';
import { parse as parseContentType } from 'content-type';
import type { Request } from 'express';
import type { FileInterceptor } from '@nestjs/platform-express';
import { FilePartHeaderRewriter } from './file-part-header.js';

/**
 * multer's `streamHandler` for uploads: pipes the request into busboy as multer itself does, with
 * the header block of the `file` part rewritten on the way (see `FilePartHeaderRewriter`).
 *
 * The request stays piped into busboy itself, not into a stream in between: when multer stops
 * early (a refused part, a size limit) it unpipes the request from busboy and drains it, which
 * only works on that pipe. So busboy's `write` is wrapped instead, and only until the header
 * block is by; from then on every chunk goes straight through.
 */
function pipeWithFilePartRewritten(req: Request, busboy: Writable): void {
  const boundary = boundaryOf(req);
  if (boundary !== undefined) {
    const rewriter = new FilePartHeaderRewriter(boundary);
    const write = busboy.write.bind(busboy);
    const end = busboy.end.bind(busboy);
    const unwrap = () => {
      // The prototype's methods again.
      delete (busboy as Partial<Writable>).write;
      delete (busboy as Partial<Writable>).end;
    };
    Object.assign(busboy, {
      write(chunk: Buffer): boolean {
        const bytes = rewriter.push(chunk);
        if (rewriter.done) unwrap();
        return write(bytes);
      },
      end(...args: unknown[]): Writable {
        unwrap();
        // An incomplete header block at the end of the body: busboy fails the request for it.
        write(rewriter.flush());
        return (end as (...a: unknown[]) => Writable)(...args);
      },
    });
  }
  req.pipe(busboy);
}

type UploadOptions = NonNullable<Parameters<typeof FileInterceptor>[1]>;

/** `FileInterceptor` options that use it (Nest's type of them does not know `streamHandler`). */
export const FILE_PART_REWRITE_OPTIONS = {
  streamHandler: pipeWithFilePartRewritten,
} as UploadOptions;

/** busboy refuses a body without one before this runs; a missing one here is left to it. */
function boundaryOf(req: Request): string | undefined {
  try {
    return parseContentType(req.headers['content-type'] ?? '').parameters.boundary;
  } catch {
    return undefined;
  }
}
