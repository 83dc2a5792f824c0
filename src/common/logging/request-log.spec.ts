import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request } from 'express';
import { RequestLog } from './request-log.js';

describe('RequestLog', () => {
  let server: Server;
  let baseUrl: string;
  const lines: string[] = [];

  beforeAll(async () => {
    const log = new RequestLog({ write: (line: string) => lines.push(line) });
    const app = express();
    app.use((req, res, next) => {
      const id = req.headers['x-request-id'];
      if (typeof id === 'string') (req as Request & { id?: string }).id = id;
      log.watch(req, res);
      next();
    });
    app.get('/ok', (_req, res) => res.send('ok'));
    app.get('/fails', (_req, res) => res.status(503).send('down'));
    server = app.listen(0, '127.0.0.1');
    await new Promise((ready) => server.once('listening', ready));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((done) => server.close(done)));

  /** The line of one request, once its response has closed. */
  async function lineOf(path: string, headers: Record<string, string> = {}): Promise<string> {
    const before = lines.length;
    await (await fetch(baseUrl + path, { headers })).text();
    for (let i = 0; lines.length === before && i < 100; i++) {
      await new Promise((done) => setTimeout(done, 10));
    }
    expect(lines).toHaveLength(before + 1);
    return lines[before];
  }

  it("writes what JSON.stringify writes of the request's object, whatever the client sends", async () => {
    const userAgent = 'quote " backslash \\ tab \t latin-1 é ÿ end';
    const line = await lineOf('/ok?name=%22a%22&signature=secret&x=1', {
      'user-agent': userAgent,
      'x-request-id': 'id "with" quotes',
    });
    const parsed = JSON.parse(line) as { time: number; responseTime: number };
    const expected = {
      level: 30,
      time: parsed.time,
      pid: process.pid,
      hostname: hostname(),
      reqId: 'id "with" quotes',
      req: {
        method: 'GET',
        url: '/ok?name=%22a%22&signature=[redacted]&x=1',
        remoteAddress: expect.stringMatching(/127\.0\.0\.1$/) as unknown as string,
        userAgent,
      },
      res: { statusCode: 200 },
      responseTime: parsed.responseTime,
      msg: 'request completed',
    };
    expect(parsed).toEqual(expected);
    // Byte for byte, in the same order of keys.
    expect(line).toBe(JSON.stringify({ ...parsed }) + '\n');
    expect(line).not.toContain('secret');
  });

  it('leaves out what the request lacks, and names a 4xx and a 5xx by their levels', async () => {
    const missing = JSON.parse(await lineOf('/nowhere', { 'user-agent': '' })) as {
      level: number;
      reqId?: string;
      res: { statusCode: number };
      msg: string;
    };
    expect(missing).toMatchObject({
      level: 40,
      res: { statusCode: 404 },
      msg: 'request completed',
    });
    expect(missing).not.toHaveProperty('reqId');
    const failed = JSON.parse(await lineOf('/fails')) as Record<string, unknown>;
    expect(failed).toMatchObject({ level: 50, res: { statusCode: 503 }, msg: 'request errored' });
  });
});
