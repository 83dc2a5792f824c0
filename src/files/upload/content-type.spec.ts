import sharp from 'sharp';
import { decideContentType } from './content-type.js';

describe('decideContentType', () => {
  it('believes the bytes first', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(await decideContentType(png, 'text/plain')).toBe('image/png');
  });

  it('keeps a valid declared type for bytes it does not recognise, normalised', async () => {
    expect(await decideContentType(Buffer.from('a,b'), 'Text/CSV; Charset=UTF-8')).toBe(
      'text/csv; charset=UTF-8',
    );
  });

  it.each(['not a type', 'image/', 'a/b/c', '', undefined])(
    'falls back to octet-stream for %j',
    async (declared) => {
      expect(await decideContentType(Buffer.from('a,b'), declared)).toBe(
        'application/octet-stream',
      );
    },
  );
});
