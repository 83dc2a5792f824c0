import { request as httpRequest, type ClientRequest } from 'node:http';
import sharp from 'sharp';
import { ImageGate } from '../src/images/image-gate.js';
import { multipartBody, multipartEnvelope } from './support/multipart.js';
import { eventually } from './support/storage.js';
import { TestApp, type TestUser } from './support/test-app.js';

/** A flat-colour image: tiny on the wire, any number of pixels once decoded. */
function flat(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();
}

function blur(t: TestApp, user: TestUser, image: Buffer, query = '') {
  const { body, contentType } = multipartBody(
    { field: 'image', filename: 'photo.png', contentType: 'image/png' },
    image,
  );
  return t.http
    .post(`/images/blur${query}`)
    .auth(user.token, { type: 'bearer' })
    .set('Content-Type', contentType)
    .send(body);
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * An image upload that sends its multipart head and then a byte every `everyMs`, never finishing
 * on its own: a client on a very slow link, or one holding a slot on purpose.
 */
function trickle(t: TestApp, user: TestUser, everyMs = 200) {
  const { head, contentType } = multipartEnvelope({ field: 'image', filename: 'slow.png' });
  const request: ClientRequest = httpRequest(`${t.baseUrl}/images/blur`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${user.token}`,
      'Content-Type': contentType,
      'Content-Length': String(head.length + 1_000_000),
    },
  });
  const answer = new Promise<Answer>((resolve, reject) => {
    request.once('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.once('end', () =>
        resolve({ status: response.statusCode!, body: JSON.parse(text) as Answer['body'] }),
      );
    });
    request.once('error', reject);
  });
  request.write(head);
  const timer = setInterval(() => request.write(Buffer.from([0])), everyMs);
  const stop = () => {
    clearInterval(timer);
    request.destroy();
  };
  void answer.finally(() => clearInterval(timer)).catch(() => undefined);
  return { answer, stop };
}

async function slotsHeld(t: TestApp, count: number): Promise<void> {
  const gate = t.app.get(ImageGate);
  await eventually(() => gate.stats.active === count, `${count} image slots held`);
}

describe('image admission', () => {
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let image: Buffer;

  afterEach(() => t.close());

  async function start(env: Record<string, string>) {
    t = await TestApp.start('sqlite', env);
    const admin = await t.adminToken();
    alice = await t.createUser('user', admin);
    bob = await t.createUser('user', admin);
    image = await flat(64, 48);
  }

  it('refuses a bad query with 400 before taking a slot, even when every slot is held', async () => {
    await start({ IMAGE_CONCURRENCY: '1', IMAGE_QUEUE_LIMIT: '0', IMAGE_USER_LIMIT: '1' });
    const slow = trickle(t, alice);
    try {
      await slotsHeld(t, 1);
      for (const query of ['?sigma=abc', '?sigma=1000', '?format=tiff']) {
        const response = await blur(t, bob, image, query);
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      }
      // A valid request finds the one slot taken and no place to wait.
      const busy = await blur(t, bob, image);
      expect(busy.status).toBe(503);
      expect(busy.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      slow.stop();
    }
  });

  it('answers 408 to an upload that has not arrived within IMAGE_UPLOAD_TIMEOUT_SECONDS, and frees its slot', async () => {
    await start({
      IMAGE_CONCURRENCY: '1',
      IMAGE_QUEUE_LIMIT: '1',
      IMAGE_UPLOAD_TIMEOUT_SECONDS: '1',
      IMAGE_QUEUE_TIMEOUT_MS: '30000',
    });
    // Alice keeps sending, never pausing long: only the deadline can end her hold on the slot.
    const slow = trickle(t, alice, 100);
    try {
      await slotsHeld(t, 1);
      const waiting = blur(t, bob, image);
      const answer = await slow.answer;
      expect(answer).toEqual({
        status: 408,
        body: {
          statusCode: 408,
          error: 'Request Timeout',
          message: 'the image did not arrive within IMAGE_UPLOAD_TIMEOUT_SECONDS (1 s)',
        },
      });
      // Bob waited for the slot and got it as soon as Alice's hold ended.
      expect((await waiting).status).toBe(200);
      await eventually(() => t.app.get(ImageGate).stats.active === 0, 'every slot released');
    } finally {
      slow.stop();
    }
  });

  it("caps one user's requests at IMAGE_USER_LIMIT (429 with Retry-After) while others get through", async () => {
    await start({ IMAGE_CONCURRENCY: '2', IMAGE_QUEUE_LIMIT: '4', IMAGE_USER_LIMIT: '1' });
    const slow = trickle(t, alice);
    try {
      await slotsHeld(t, 1);
      const refused = await blur(t, alice, image);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(refused.body).toMatchObject({
        statusCode: 429,
        error: 'Too Many Requests',
        message: expect.stringContaining('IMAGE_USER_LIMIT'),
      });
      expect((await blur(t, bob, image)).status).toBe(200);
    } finally {
      slow.stop();
    }
    // Her hold over, Alice may blur again.
    await slotsHeld(t, 0);
    expect((await blur(t, alice, image)).status).toBe(200);
  });
});

describe('image memory', () => {
  let t: TestApp;
  let alice: TestUser;
  beforeAll(async () => {
    t = await TestApp.start('sqlite', {
      IMAGE_MEMORY_BUDGET_MB: '64',
      IMAGE_MAX_AVIF_PIXELS: '1000000',
    });
    alice = await t.createUser('user');
  });
  afterAll(() => t.close());

  it('answers 422 to an image whose work could never fit IMAGE_MEMORY_BUDGET_MB, and blurs it into a lighter format', async () => {
    const image = await flat(2500, 3000);
    const refused = await blur(t, alice, image, '?format=webp&sigma=1');
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: expect.stringMatching(
        /^blurring this image \(2500×3000 pixels\) into webp needs about \d+ MiB, more than IMAGE_MEMORY_BUDGET_MB \(64\) allows$/,
      ),
    });
    const served = await blur(t, alice, image, '?format=jpeg&sigma=1');
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe('image/jpeg');
  });

  it('answers 422 to AVIF output past IMAGE_MAX_AVIF_PIXELS, and serves it below', async () => {
    const refused = await blur(t, alice, await flat(1001, 1000), '?format=avif');
    expect(refused.status).toBe(422);
    expect(refused.body.message).toBe(
      'the image has 1001×1000 pixels, more than IMAGE_MAX_AVIF_PIXELS (1000000) for AVIF output: ' +
        'ask for webp, jpeg or png',
    );
    const served = await blur(t, alice, await flat(100, 100), '?format=avif');
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe('image/avif');
  });
});
