import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The built server (`node dist/main.js`, as `npm start` runs it) in a child process on a free
 * port, with exactly the environment given (plus PATH).
 */
export class ServerProcess {
  private output = '';
  readonly exited: Promise<Exit>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => done({ code, signal })),
    );
  }

  static async start(env: Record<string, string>): Promise<ServerProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child, port);
    await server.waitUntilHealthy();
    return server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Everything the process wrote to stdout and stderr so far. */
  get log(): string {
    return this.output;
  }

  /** The JSON log lines written so far. */
  get logLines(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** Waits until a JSON log line satisfies `predicate` (log lines are written after responses). */
  async waitForLogLine(predicate: (line: Record<string, unknown>) => boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!this.logLines.some(predicate)) {
      if (Date.now() > deadline) throw new Error(`no such log line in:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  private async waitUntilHealthy(): Promise<void> {
    const deadline = Date.now() + 30_000;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (Date.now() < deadline && !exited) {
      const healthy = await fetch(`${this.baseUrl}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (healthy) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    this.child.kill('SIGKILL');
    throw new Error(`the server did not become healthy:\n${this.output}`);
  }
}

/** Runs `node <script> ...args` to completion with exactly `env` (plus PATH). */
export function runNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  return new Promise((done) =>
    child.once('close', (code, signal) => done({ code, signal, stdout, stderr })),
  );
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
    probe.once('error', fail);
  });
}
