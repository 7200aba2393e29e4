/**
 * Decoding untrusted image bytes: allow-listed formats by content, pixel cap, corrupt data, EXIF.
 */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeImage, openImage, sniffImageFormat, type DecodeLimits } from '../../services/tasks/common/image.ts';
import { SVG, decompressionBomb, photo, storedRotated, truncated } from './images.ts';
import { codeOf } from '../support/code-of.ts';

const limits: DecodeLimits = { maxPixels: 40_000_000, formats: ['jpeg', 'png', 'webp'] };


describe('decodeImage', () => {
  it('decodes JPEG, PNG and WebP to upright 8-bit RGB', async () => {
    const dog = await decodeImage(photo('dog.jpg'), limits);
    expect(dog).toMatchObject({ format: 'jpeg', width: 768, height: 576 });
    expect(dog.data.length).toBe(768 * 576 * 3);

    const astronaut = await decodeImage(photo('astronaut.png'), limits);
    expect(astronaut).toMatchObject({ format: 'png', width: 512, height: 512 });

    const webp = await decodeImage(await sharp(photo('chelsea.png')).webp().toBuffer(), limits);
    expect(webp).toMatchObject({ format: 'webp', width: 451, height: 300 });
    expect(webp.data.length).toBe(451 * 300 * 3);
  });

  it('folds grey, alpha and 16-bit images into 3 channels of 8 bits', async () => {
    const grey = await decodeImage(await sharp(photo('dog.jpg')).greyscale().png().toBuffer(), limits);
    const alpha = await decodeImage(await sharp(photo('dog.jpg')).ensureAlpha(0.5).png().toBuffer(), limits);
    const deep = await decodeImage(await sharp(photo('dog.jpg')).toColourspace('rgb16').png().toBuffer(), limits);
    for (const image of [grey, alpha, deep]) expect(image.data.length).toBe(768 * 576 * 3);
    // 16-bit values are scaled, not clipped: the picture keeps its mean brightness.
    const mean = (data: Buffer) => data.reduce((sum, value) => sum + value, 0) / data.length;
    const original = await decodeImage(photo('dog.jpg'), limits);
    expect(Math.abs(mean(deep.data) - mean(original.data))).toBeLessThan(2);
  });

  it('applies the EXIF orientation: a picture stored turned comes out upright', async () => {
    const rotated = await storedRotated(photo('dog.jpg'));
    expect((await sharp(rotated).metadata()).width).toBe(576); // stored sideways
    const upright = await decodeImage(rotated, limits);
    expect({ width: upright.width, height: upright.height }).toEqual({ width: 768, height: 576 });
    // Same pixels as the original up to JPEG noise: compare mean absolute difference.
    const original = await decodeImage(photo('dog.jpg'), limits);
    let difference = 0;
    for (let i = 0; i < original.data.length; i++) difference += Math.abs(original.data[i]! - upright.data[i]!);
    expect(difference / original.data.length).toBeLessThan(6);
  });

  it('sniffs formats from magic bytes only', () => {
    expect(sniffImageFormat(photo('dog.jpg'))).toBe('jpeg');
    expect(sniffImageFormat(photo('astronaut.png'))).toBe('png');
    expect(sniffImageFormat(SVG)).toBeUndefined();
    expect(sniffImageFormat(Buffer.from('RIFF'))).toBeUndefined();
  });

  it('BAD CALL - empty body -> EDGE_ERR_BODY_EMPTY', async () => {
    expect(await codeOf(decodeImage(Buffer.alloc(0), limits))).toBe('EDGE_ERR_BODY_EMPTY');
  });

  it('BAD CALL - SVG, TIFF, GIF or text, whatever they claim to be -> EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', async () => {
    const tiff = await sharp(photo('dog.jpg')).tiff().toBuffer();
    const gif = await sharp(photo('dog.jpg')).gif().toBuffer();
    for (const bytes of [SVG, tiff, gif, Buffer.from('not an image at all, just text')]) {
      expect(await codeOf(decodeImage(bytes, limits))).toBe('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED');
    }
  });

  it('BAD CALL - a format the configuration does not allow -> EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', async () => {
    expect(await codeOf(decodeImage(photo('astronaut.png'), { ...limits, formats: ['jpeg'] }))).toBe('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED');
  });

  it('BAD CALL - a string (would be a file path to sharp) is refused without touching the file', async () => {
    const path = '/etc/passwd';
    expect(await codeOf(decodeImage(path as unknown as Buffer, limits))).toBe('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED');
  });

  it('BAD CALL - decompression bomb PNG (20000x20000 in ~50 KB) -> EDGE_ERR_IMAGE_TOO_LARGE, fast', async () => {
    const bomb = decompressionBomb();
    expect(bomb.length).toBeLessThan(100_000);
    const started = Date.now();
    expect(await codeOf(decodeImage(bomb, limits))).toBe('EDGE_ERR_IMAGE_TOO_LARGE');
    expect(Date.now() - started).toBeLessThan(2_000); // refused from the header, never inflated
  });

  it('BAD CALL - an image just over the configured pixel cap -> EDGE_ERR_IMAGE_TOO_LARGE', async () => {
    expect(await codeOf(decodeImage(photo('dog.jpg'), { ...limits, maxPixels: 768 * 576 - 1 }))).toBe('EDGE_ERR_IMAGE_TOO_LARGE');
    await expect(decodeImage(photo('dog.jpg'), { ...limits, maxPixels: 768 * 576 })).resolves.toMatchObject({ width: 768 });
  });

  it('openImage knows the upright size from the header alone, and a resize reads the pixels upright', async () => {
    const source = await openImage(await storedRotated(photo('dog.jpg')), limits);
    expect({ width: source.width, height: source.height, format: source.format }).toEqual({ width: 768, height: 576, format: 'jpeg' });
    const small = await source.rasterize((pipeline) => pipeline.resize(96, 72, { fit: 'fill' }));
    expect(small.length).toBe(96 * 72 * 3);
    const reference = await (await decodeImage(photo('dog.jpg'), limits)).rasterize((pipeline) => pipeline.resize(96, 72, { fit: 'fill' }));
    let difference = 0;
    for (let i = 0; i < small.length; i++) difference += Math.abs(small[i]! - reference[i]!);
    expect(difference / small.length).toBeLessThan(6);
  });

  it('BAD CALL - truncated data passes openImage (header only) and fails the decode with EDGE_ERR_IMAGE_CORRUPT', async () => {
    for (const bytes of [truncated(photo('dog.jpg')), truncated(photo('astronaut.png'))]) {
      const source = await openImage(bytes, limits);
      expect(await codeOf(source.rasterize((pipeline) => pipeline.resize(64, 64)))).toBe('EDGE_ERR_IMAGE_CORRUPT');
    }
  });

  it('BAD CALL - truncated JPEG and PNG -> EDGE_ERR_IMAGE_CORRUPT', async () => {
    expect(await codeOf(decodeImage(truncated(photo('dog.jpg')), limits))).toBe('EDGE_ERR_IMAGE_CORRUPT');
    expect(await codeOf(decodeImage(truncated(photo('astronaut.png')), limits))).toBe('EDGE_ERR_IMAGE_CORRUPT');
  });

  it('BAD CALL - a valid header followed by garbage -> EDGE_ERR_IMAGE_CORRUPT', async () => {
    const png = photo('astronaut.png');
    const mangled = Buffer.concat([png.subarray(0, 64), Buffer.alloc(png.length - 64, 0x5a)]);
    expect(await codeOf(decodeImage(mangled, limits))).toBe('EDGE_ERR_IMAGE_CORRUPT');
    const jpeg = photo('dog.jpg');
    expect(await codeOf(decodeImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...jpeg.subarray(4, 20), 0, 0, 0]), limits))).toBe('EDGE_ERR_IMAGE_CORRUPT');
  });
});
