import { crc32, deflateSync } from 'node:zlib';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { binaryParser } from './support/binary-parser.js';
import { multipartBody } from './support/multipart.js';
import { eventually, listFiles } from './support/storage.js';
import { DIALECTS } from './support/test-database.js';
import { TestApp, type TestUser } from './support/test-app.js';

/** Random noise: every neighbouring pair of pixels differs, so blurring is measurable. */
function noise(width = 320, height = 200, channels: 3 | 4 = 3) {
  return sharp({
    create: {
      width,
      height,
      channels,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 70 },
    },
  });
}

/** Mean absolute difference of horizontally neighbouring grey pixels: lower is blurrier. */
async function sharpness(image: Buffer): Promise<number> {
  const { data, info } = await sharp(image).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 1; x < info.width; x++) {
      sum += Math.abs(data[y * info.width + x] - data[y * info.width + x - 1]);
    }
  }
  return sum / (info.height * (info.width - 1));
}

/** A real PNG header claiming width × height, with almost no pixel data: tiny on the wire. */
function pngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe.each(DIALECTS)('images (%s)', (dialect) => {
  let t: TestApp;
  let alice: TestUser;
  beforeAll(async () => {
    t = await TestApp.start(dialect);
    alice = await t.createUser('user');
  });
  afterAll(() => t.close());

  function blur(
    image: Buffer,
    query = '',
    filename = 'photo.jpg',
    contentType = 'image/jpeg',
    token = alice.token,
  ) {
    const { body, contentType: type } = multipartBody(
      { field: 'image', filename, contentType },
      image,
    );
    return t.http
      .post(`/images/blur${query}`)
      .auth(token, { type: 'bearer' })
      .set('Content-Type', type)
      .send(body)
      .buffer(true)
      .parse(binaryParser);
  }
  const errorOf = (response: { body: Buffer }) =>
    JSON.parse(response.body.toString()) as Record<string, unknown>;

  describe('POST /images/blur', () => {
    it('returns the blurred image: same size, decodable, at least 30% less sharp at sigma 5', async () => {
      const input = await noise().jpeg({ quality: 95 }).toBuffer();
      const response = await blur(input).expect(200);
      expect(response.headers['content-type']).toBe('image/jpeg');
      expect(response.headers['content-length']).toBe(String(response.body.length));
      expect(response.headers['content-disposition']).toBe('inline; filename="photo-blurred.jpg"');
      const out = await sharp(response.body).metadata();
      expect({ format: out.format, width: out.width, height: out.height }).toEqual({
        format: 'jpeg',
        width: 320,
        height: 200,
      });
      expect(await sharpness(response.body)).toBeLessThan(0.7 * (await sharpness(input)));
    });

    it('blurs more at sigma 20 than at sigma 2', async () => {
      const input = await noise().png().toBuffer();
      const soft = await blur(input, '?sigma=2', 'n.png', 'image/png').expect(200);
      const softer = await blur(input, '?sigma=20', 'n.png', 'image/png').expect(200);
      expect(await sharpness(softer.body)).toBeLessThan(await sharpness(soft.body));
    });

    it.each([
      ['webp', 'image/webp', 'webp'],
      ['png', 'image/png', 'png'],
      ['avif', 'image/avif', 'avif'],
      ['jpeg', 'image/jpeg', 'jpg'],
    ])('converts to format=%s', async (format, type, extension) => {
      const response = await blur(
        await noise(64, 48).png().toBuffer(),
        `?format=${format}`,
        'n.png',
        'image/png',
      ).expect(200);
      expect(response.headers['content-type']).toBe(type);
      expect(response.headers['content-disposition']).toBe(
        `inline; filename="n-blurred.${extension}"`,
      );
      const out = await sharp(response.body).metadata();
      expect(out.format).toBe(format === 'avif' ? 'heif' : format);
      expect([out.width, out.height]).toEqual([64, 48]);
    });

    it('applies EXIF orientation 6 and returns no EXIF', async () => {
      const input = await noise(300, 100)
        .jpeg()
        .withMetadata({ orientation: 6 })
        .withExif({ IFD0: { Artist: 'someone', Copyright: 'theirs' } })
        .toBuffer();
      expect((await sharp(input).metadata()).orientation).toBe(6);
      const response = await blur(input).expect(200);
      const out = await sharp(response.body).metadata();
      expect([out.width, out.height]).toEqual([100, 300]);
      expect(out.orientation).toBeUndefined();
      expect(out.exif).toBeUndefined();
      expect(response.body.includes('someone')).toBe(false);
    });

    it('keeps alpha in PNG, WebP and AVIF, and flattens it for JPEG', async () => {
      const input = await noise(64, 64, 4).ensureAlpha(0.5).png().toBuffer();
      for (const format of ['png', 'webp', 'avif']) {
        const response = await blur(input, `?format=${format}`, 'a.png', 'image/png').expect(200);
        expect((await sharp(response.body).metadata()).hasAlpha).toBe(true);
      }
      const jpeg = await blur(input, '?format=jpeg', 'a.png', 'image/png').expect(200);
      expect((await sharp(jpeg.body).metadata()).hasAlpha).toBe(false);
    });

    it('takes the first frame of a GIF and answers PNG', async () => {
      const gif = await noise(40, 30).gif().toBuffer();
      const response = await blur(gif, '', 'anim.gif', 'image/gif').expect(200);
      expect(response.headers['content-type']).toBe('image/png');
      expect(response.headers['content-disposition']).toBe('inline; filename="anim-blurred.png"');
      expect((await sharp(response.body).metadata()).format).toBe('png');
    });

    it('decides the type by the bytes: a WebP sent as image/jpeg stays WebP', async () => {
      const webp = await noise(40, 30).webp().toBuffer();
      const response = await blur(webp, '', 'x.jpg', 'image/jpeg').expect(200);
      expect(response.headers['content-type']).toBe('image/webp');
    });

    it.each([
      [
        'a text file named x.jpg, sent as image/jpeg',
        () => Promise.resolve(Buffer.from('hello, I am not a picture')),
        'x.jpg',
      ],
      [
        'an SVG',
        () =>
          Promise.resolve(
            Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'),
          ),
        'x.svg',
      ],
      ['a PDF', () => Promise.resolve(Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n')), 'x.pdf'],
      ['a TIFF', () => noise(20, 20).tiff().toBuffer(), 'x.tiff'],
      [
        'a HEIC',
        () =>
          Promise.resolve(
            Buffer.concat([
              Buffer.from([0, 0, 0, 24]),
              Buffer.from('ftypheic\0\0\0\0mif1heic'),
              Buffer.alloc(64),
            ]),
          ),
        'x.heic',
      ],
    ])('answers 415 to %s', async (_case, make, name) => {
      const response = await blur(await make(), '', name, 'image/jpeg').expect(415);
      expect(errorOf(response)).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    });

    it('answers 422 to a truncated JPEG', async () => {
      const whole = await noise().jpeg().toBuffer();
      const response = await blur(whole.subarray(0, Math.floor(whole.length * 0.6))).expect(422);
      expect(errorOf(response)).toEqual({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: 'the image cannot be decoded',
      });
    });

    it('answers 422 to a 20000×20000 PNG from its header alone, and stays healthy', async () => {
      const bomb = pngBomb(20_000, 20_000);
      expect(bomb.length).toBeLessThan(2000);
      const response = await blur(bomb, '', 'bomb.png', 'image/png').expect(422);
      expect(errorOf(response).message).toBe(
        'the image has 20000×20000 pixels, more than MAX_IMAGE_PIXELS (50000000)',
      );
      await t.http.get('/health').expect(200);
      await blur(await noise(32, 32).png().toBuffer(), '', 'ok.png', 'image/png').expect(200);
    });

    it.each([
      '?sigma=0.2',
      '?sigma=100.5',
      '?sigma=abc',
      '?sigma=',
      '?format=gif',
      '?format=JPEG',
      '?other=1',
    ])('answers 400 to %s', async (query) => {
      const response = await blur(
        await noise(16, 16).png().toBuffer(),
        query,
        'n.png',
        'image/png',
      ).expect(400);
      expect(errorOf(response)).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });

    it('answers 400 without an image part', async () => {
      await t.http.post('/images/blur').auth(alice.token, { type: 'bearer' }).send({}).expect(400);
    });

    it('writes nothing to disk', async () => {
      const before = await listFiles(t.config.storageDir);
      await blur(await noise().jpeg().toBuffer()).expect(200);
      const after = await listFiles(t.config.storageDir);
      expect(after.filter((f) => !f.startsWith('registry.sqlite'))).toEqual(
        before.filter((f) => !f.startsWith('registry.sqlite')),
      );
    });
  });

  describe('POST /files/{id}/blur', () => {
    async function store(data: Buffer, filename: string, token = alice.token): Promise<string> {
      const response = await t.upload(token, data, { filename });
      return (response.body as { id: string }).id;
    }

    it('stores a blurred copy owned by the caller, named <stem>-blurred.<ext>', async () => {
      const input = await noise().jpeg({ quality: 95 }).toBuffer();
      const id = await store(input, 'holiday.jpeg');
      const response = await t.http
        .post(`/files/${id}/blur?sigma=5&format=webp`)
        .auth(alice.token, { type: 'bearer' })
        .expect(201);
      expect(response.body).toMatchObject({
        filename: 'holiday-blurred.webp',
        contentType: 'image/webp',
        ownerId: alice.id,
      });
      expect(response.headers.location).toBe(`/files/${response.body.id}`);
      const bytes = await t.http
        .get(`/files/${response.body.id}/download`)
        .auth(alice.token, { type: 'bearer' })
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(bytes.body.length).toBe(response.body.size);
      expect(await sharpness(bytes.body)).toBeLessThan(0.7 * (await sharpness(input)));
      expect(await t.uploadLeftovers()).toEqual([]);
    });

    it("lets an admin blur anyone's image into a file of the admin's", async () => {
      const id = await store(await noise(32, 32).png().toBuffer(), 'a.png');
      const admin = await t.adminToken();
      const me = await t.http.get('/auth/me').auth(admin, { type: 'bearer' });
      const response = await t.http
        .post(`/files/${id}/blur`)
        .auth(admin, { type: 'bearer' })
        .expect(201);
      expect(response.body).toMatchObject({ ownerId: me.body.id, filename: 'a-blurred.png' });
    });

    it("answers 404 for someone else's file, 415 for a file that is not an image, 400 for bad options", async () => {
      const bob = await t.createUser('user');
      const image = await store(await noise(32, 32).png().toBuffer(), 'a.png');
      await t.http.post(`/files/${image}/blur`).auth(bob.token, { type: 'bearer' }).expect(404);
      const text = await store(Buffer.from('just text'), 'notes.txt');
      const response = await t.http
        .post(`/files/${text}/blur`)
        .auth(alice.token, { type: 'bearer' })
        .expect(415);
      expect(response.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
      await t.http
        .post(`/files/${image}/blur?sigma=0`)
        .auth(alice.token, { type: 'bearer' })
        .expect(400);
      await t.http.post('/files/not-a-uuid/blur').auth(alice.token, { type: 'bearer' }).expect(400);
      expect(await t.uploadLeftovers()).toEqual([]);
    });
  });
});

describe('a blurred copy that cannot be stored', () => {
  let t: TestApp;
  beforeAll(async () => {
    // On local disk, whose folders the test can make unusable.
    t = await TestApp.start('sqlite', { STORAGE_DRIVER: 'local' });
  });
  afterAll(() => t.close());

  it('is a 503 that leaves no temp file', async () => {
    const token = await t.adminToken();
    const { body } = await t.upload(token, await noise(32, 32).png().toBuffer(), {
      filename: 'a.png',
    });
    const id = (body as { id: string }).id;
    const files = join(t.config.storageDir, 'files');
    const [first, second] = [id.slice(0, 2), id.slice(2, 4)];
    // The source stays readable, but no other shard folder can be made: every other name is taken
    // by a plain file. (In this app only the source's folders exist; a new copy lands beside the
    // source 1 time in 65,536.)
    const candidates: string[] = [];
    for (let i = 0; i < 256; i++) {
      const shard = i.toString(16).padStart(2, '0');
      if (shard !== first) candidates.push(join(files, shard));
      if (shard !== second) candidates.push(join(files, first, shard));
    }
    await Promise.all(candidates.map((path) => writeFile(path, '', { flag: 'wx' })));
    try {
      const response = await t.http
        .post(`/files/${id}/blur`)
        .auth(token, { type: 'bearer' })
        .expect(503);
      expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      await eventually(async () => (await t.uploadLeftovers()).length === 0, 'no temp file');
    } finally {
      await Promise.all(candidates.map((path) => rm(path, { force: true })));
    }
  });
});

describe('images under a size limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await TestApp.start('sqlite', { MAX_IMAGE_BYTES: '2000', MAX_IMAGE_PIXELS: '10000' });
  });
  afterAll(() => t.close());

  it('answers 413 past MAX_IMAGE_BYTES and 422 past MAX_IMAGE_PIXELS', async () => {
    const token = await t.adminToken();
    const send = async (image: Buffer) => {
      const { body, contentType } = multipartBody(
        { field: 'image', filename: 'n.png', contentType: 'image/png' },
        image,
      );
      return t.http
        .post('/images/blur')
        .auth(token, { type: 'bearer' })
        .set('Content-Type', contentType)
        .send(body);
    };
    const big = await noise(200, 200).png().toBuffer();
    expect(big.length).toBeGreaterThan(2000);
    expect((await send(big)).status).toBe(413);
    const wide = await sharp({
      create: { width: 101, height: 100, channels: 3, background: '#fff' },
    })
      .png()
      .toBuffer();
    const tooMany = await send(wide);
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.message).toBe(
      'the image has 101×100 pixels, more than MAX_IMAGE_PIXELS (10000)',
    );
    const fits = await sharp({
      create: { width: 100, height: 100, channels: 3, background: '#fff' },
    })
      .png()
      .toBuffer();
    expect((await send(fits)).status).toBe(200);
  });
});

describe('the image gate', () => {
  let t: TestApp;
  beforeAll(async () => {
    // One user sends the whole burst: IMAGE_USER_LIMIT lets all of it reach the queue.
    t = await TestApp.start('sqlite', {
      IMAGE_CONCURRENCY: '1',
      IMAGE_QUEUE_LIMIT: '1',
      IMAGE_USER_LIMIT: '12',
    });
  });
  afterAll(() => t.close());

  it('answers a burst past one slot and one waiting place with 503 + Retry-After, and nothing else fails', async () => {
    const token = await t.adminToken();
    const image = await noise(1200, 1200).jpeg().toBuffer();
    const { body, contentType } = multipartBody(
      { field: 'image', filename: 'n.jpg', contentType: 'image/jpeg' },
      image,
    );
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        t.http
          .post('/images/blur?sigma=20')
          .auth(token, { type: 'bearer' })
          .set('Content-Type', contentType)
          .send(body),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    for (const busy of responses.filter((r) => r.status === 503)) {
      expect(Number(busy.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(busy.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    }
    // Afterwards, the gate is free again.
    await t.http
      .post('/images/blur')
      .auth(token, { type: 'bearer' })
      .set('Content-Type', contentType)
      .send(body)
      .expect(200);
  });
});
