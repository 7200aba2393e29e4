/**
 * Test images: the real fixture photos, and bad inputs built from them at test time
 * (rotated copies with an EXIF orientation, truncations, other formats, a decompression bomb).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../../services/core/config.ts';

export const FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'images');

export function photo(name: 'dog.jpg' | 'person.jpg' | 'horses.jpg' | 'astronaut.png' | 'chelsea.png'): Buffer {
  return readFileSync(path.join(FIXTURES, name));
}

/**
 * The same upright picture stored rotated, with the EXIF tag that tells viewers to turn it back:
 * orientation 6 = "rotate 90 degrees clockwise to display", so the pixels are stored turned 90 anticlockwise.
 */
export async function storedRotated(image: Buffer): Promise<Buffer> {
  return sharp(image).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A complete, valid 1-bit grey PNG of side x side pixels, all black: a decompression bomb
 * (20000 x 20000 = 400 million pixels in about 50 KB).
 */
export function decompressionBomb(side = 20_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  const rows = Buffer.alloc((1 + Math.ceil(side / 8)) * side); // filter byte 0 + packed bits, all zero
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(rows, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export const SVG = Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>');

export function truncated(bytes: Buffer): Buffer {
  return bytes.subarray(0, Math.floor(bytes.length / 2));
}
