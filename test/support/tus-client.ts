import { Readable } from 'node:stream';
import { DefaultHttpStack, Upload, type HttpRequest, type UploadOptions } from 'tus-js-client';
import { eventually } from './storage.js';

/** The header every tus request carries. */
export const TUS = { 'Tus-Resumable': '1.0.0' };

/** The upload URL and the file id of a finished tus-js-client upload. */
export interface Finished {
  url: string;
  fileId: string | undefined;
}

/** tus-js-client as an application uses it, with retries for a busy (423) or moved (409) upload. */
export function tusOptions(
  baseUrl: string,
  token: string,
  extra: UploadOptions = {},
): UploadOptions {
  return {
    endpoint: `${baseUrl}/files/uploads`,
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'holiday.bin', filetype: 'application/x-holiday' },
    // Long enough to outwait the lock of an append cut short by a server that stopped (20 s).
    retryDelays: [100, 300, 600, 1000, 2000, 3000, 5000, 5000, 5000],
    ...extra,
  };
}

/** Sends `data` with tus-js-client to the end. */
export function sendAll(data: Buffer, options: UploadOptions): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const upload: Upload = new Upload(data, {
      ...options,
      onSuccess: ({ lastResponse }) =>
        resolve({ url: upload.url!, fileId: lastResponse.getHeader('File-Id') }),
      onError: reject,
    });
    upload.start();
  });
}

/**
 * tus-js-client's own HTTP stack, but the body of its first PATCH stops after 40% of its bytes
 * and never ends: the connection is cut there (see `sendPart`). `cut` resolves once they are sent.
 */
class StackStoppingAt40Percent extends DefaultHttpStack {
  readonly cut: Promise<void>;
  private reached!: () => void;

  constructor() {
    super({});
    this.cut = new Promise((resolve) => (this.reached = resolve));
  }

  override createRequest(method: string, url: string): HttpRequest {
    const request = super.createRequest(method, url);
    if (method !== 'PATCH') return request;
    const send = request.send.bind(request);
    request.send = (body: Buffer) => {
      const part = body.subarray(0, Math.floor(body.length * 0.4));
      const stalled = new Readable({ read: () => undefined });
      stalled.push(part);
      this.reached();
      return send(stalled);
    };
    return request;
  }
}

/** Sends `data` with tus-js-client and cuts the connection at about 40%; the upload's URL. */
export async function sendPart(data: Buffer, options: UploadOptions): Promise<string> {
  const stack = new StackStoppingAt40Percent();
  let upload!: Upload;
  const failed = new Promise<never>((_, reject) => {
    upload = new Upload(data, { ...options, httpStack: stack, onError: reject });
  });
  upload.start();
  await Promise.race([stack.cut, failed]);
  // Time for the bytes to cross loopback before the cut; only the offset depends on it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await upload.abort(); // destroys the request mid-body; the upload stays (no termination)
  // The server keeps what arrived once it sees the connection go: wait for that.
  const url = upload.url!;
  await eventually(async () => {
    const head = await fetch(url, { method: 'HEAD', headers: { ...options.headers, ...TUS } });
    return Number(head.headers.get('upload-offset')) > 0;
  }, 'the bytes before the cut kept');
  return url;
}
