import { pino, type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { AppConfig } from '../../config/app-config.js';

/**
 * JSON lines wait in memory until this many bytes are there (or FLUSH_INTERVAL_MS has passed),
 * then go out in one asynchronous write: a synchronous write per line costs a system call per
 * request, on the thread that serves them.
 */
const MIN_WRITE_BYTES = 4096;
/** The longest a line waits before it is written, when few requests come. */
const FLUSH_INTERVAL_MS = 500;
/** The longest a graceful stop waits for the last lines to be written. */
const FLUSH_WAIT_MS = 5000;

/** pino's stdout writer (sonic-boom, holding Buffers), with the parts of its interface used here. */
type StdoutWriter = {
  write(bytes: Buffer): boolean;
  flush(callback: (error?: Error) => void): void;
};

let stdout: StdoutWriter | undefined;
let destination: DestinationStream | undefined;
let root: Logger | undefined;

/**
 * The process's logger: nestjs-pino's (Nest's own lines and the service's `Logger`s) derives from
 * it, and the request lines go straight through it. One per process, as nestjs-pino's is: the
 * first configuration's level and format hold.
 */
export function rootLogger(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): Logger {
  root ??= pino({ level: config.logLevel }, logDestination(config.logFormat));
  return root;
}

/**
 * Where log lines go: stdout, as JSON objects buffered and written asynchronously, or as
 * pino-pretty's human-readable lines (for a terminal), each written at once. Whatever is still
 * buffered is written synchronously when the process exits (pino registers that), and
 * `flushLog()` waits for it on a graceful stop.
 */
export function logDestination(format: AppConfig['logFormat']): DestinationStream {
  if (destination) return destination;
  if (format === 'pretty') {
    const prettify = prettyFactory({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      singleLine: true,
      ignore: 'pid,hostname,context,req,res,responseTime',
      messageFormat: prettyMessage,
    });
    const terminal = pino.destination({ dest: 1, sync: true });
    destination = { write: (line: string) => terminal.write(prettify(line)) };
  } else {
    // Lines are held as Buffers: with strings, sonic-boom measures its whole pending batch in
    // UTF-8 bytes again on every line (a copy of up to MIN_WRITE_BYTES each time: about 10 µs a
    // request line on Node 24, docs/benchmarks.md); with Buffers it adds up their lengths.
    // sonic-boom's types know only strings; in 'buffer' mode it takes Buffers.
    const writer = pino.destination({
      dest: 1,
      sync: false,
      minLength: MIN_WRITE_BYTES,
      periodicFlush: FLUSH_INTERVAL_MS,
      contentMode: 'buffer',
    }) as unknown as StdoutWriter;
    stdout = writer;
    destination = { write: (line: string) => writer.write(Buffer.from(line)) };
  }
  return destination;
}

/**
 * A request as `GET /files/… 200 3ms`, anything else as `[Context] message`; the request id and
 * whatever else a line carries follow it.
 */
function prettyMessage(line: Record<string, unknown>, messageKey: string): string {
  const { req, res, responseTime, context } = line as {
    req?: { method: string; url: string };
    res?: { statusCode: number };
    responseTime?: number;
    context?: string;
  };
  if (req && res) return `${req.method} ${req.url} ${res.statusCode} ${responseTime}ms`;
  const message = line[messageKey];
  return `${context ? `[${context}] ` : ''}${typeof message === 'string' ? message : ''}`;
}

/**
 * Resolves once every line logged so far has been handed to stdout, or after FLUSH_WAIT_MS: a
 * reader that stopped reading stdout must not hold up the stop (what is left is then written
 * synchronously on exit, as far as the pipe takes it).
 */
export function flushLog(): Promise<void> {
  return new Promise((done) => {
    if (!stdout) return done();
    setTimeout(done, FLUSH_WAIT_MS).unref();
    // An error here is stdout's (a closed pipe, or fsync on a pipe): nothing more can be done.
    stdout.flush(() => done());
  });
}
