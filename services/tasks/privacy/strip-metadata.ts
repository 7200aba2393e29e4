/**
 * Strips metadata (EXIF, XMP, comments, text chunks, RIFF INFO lists...) from an image or a WAV
 * before it leaves a tier. Lossless wherever the container allows: whole segments or chunks are
 * copied or dropped, and pixels and samples are never decoded. The one exception is a JPEG whose
 * EXIF orientation is not 1: dropping that tag alone would turn the picture, so it is re-encoded
 * upright instead.
 *
 * Kept, because a decoder needs them to show the same picture or sound (and they say nothing about
 * who took it, where or when):
 * - JPEG: every non-APPn segment, APP0 JFIF (its thumbnail emptied), APP2 ICC_PROFILE, APP14 Adobe.
 * - PNG: critical chunks and the colour chunks tRNS gAMA cHRM sRGB iCCP sBIT pHYs cICP mDCv cLLi.
 * - WebP: VP8X (its EXIF and XMP flags cleared), VP8, VP8L, ALPH, ANIM, ANMF, ICCP.
 * - WAV: fmt, fact, data.
 * Everything else is dropped, bytes after the container's end ('trailer': e.g. a phone's appended
 * motion-photo video or a second picture of a multi-picture JPEG) included.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { EdgeError } from '../../core/errors.ts';
import { sniffImageFormat } from '../common/image.ts';

export type StrippableFormat = 'jpeg' | 'png' | 'webp' | 'wav';

export interface StrippedData {
  bytes: Buffer;
  format: StrippableFormat;
  /** What was dropped, each kind once, in file order: 'EXIF', 'XMP', 'COM', 'tEXt', 'LIST', 'trailer'... */
  removed: string[];
  /** True when the pixels were decoded and encoded again (a JPEG with an EXIF orientation). */
  reencoded: boolean;
}

export interface StripOptions {
  /** Largest width x height decoded when a JPEG must be re-encoded (default: sharp's own limit). */
  maxPixels?: number;
}

/** The format from the magic bytes, or undefined when it is none this module strips. */
export function sniffStrippableFormat(bytes: Uint8Array): StrippableFormat | undefined {
  const image = sniffImageFormat(bytes);
  if (image !== undefined) return image;
  if (bytes.length >= 12 && fourcc(bytes, 0) === 'RIFF' && fourcc(bytes, 8) === 'WAVE') return 'wav';
  return undefined;
}

/**
 * Throws EDGE_ERR_BODY_EMPTY, EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED (none of JPEG, PNG, WebP, WAV),
 * EDGE_ERR_IMAGE_CORRUPT (a segment or chunk that runs past the end, a missing end marker, a bad
 * PNG CRC), EDGE_ERR_IMAGE_TOO_LARGE (re-encoding past maxPixels), EDGE_ERR_AUDIO_HEADER_INVALID
 * or EDGE_ERR_AUDIO_TRUNCATED (a WAV whose chunks lie, as decodeWav in speech/wav.ts reports them).
 */
export async function stripMetadata(bytes: Uint8Array, options: StripOptions = {}): Promise<StrippedData> {
  if (!(bytes instanceof Uint8Array)) {
    throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `data to strip must be bytes, got ${typeof bytes}`);
  }
  if (bytes.length === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'the data to strip is empty');
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = sniffStrippableFormat(input);
  switch (format) {
    case 'jpeg':
      return stripJpeg(input, options);
    case 'png':
      return { format, reencoded: false, ...stripPng(input) };
    case 'webp':
      return { format, reencoded: false, ...stripWebp(input) };
    case 'wav':
      return { format, reencoded: false, ...stripWav(input) };
    default:
      throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `cannot strip metadata from bytes ${input.subarray(0, 4).toString('hex')}: send JPEG, PNG, WebP or WAV`);
  }
}

interface Copied {
  bytes: Buffer;
  removed: string[];
}

function imageCorrupt(format: string, message: string): EdgeError {
  return new EdgeError('EDGE_ERR_IMAGE_CORRUPT', `${format} image is truncated or corrupt: ${message}`, { details: { format } });
}

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

const EOI = 0xd9;
const SOS = 0xda;
const COM = 0xfe;
const APP0 = 0xe0;
const APP15 = 0xef;

const startsWithText = (payload: Buffer, text: string) => payload.length >= text.length && payload.toString('latin1', 0, text.length) === text;

async function stripJpeg(input: Buffer, options: StripOptions): Promise<StrippedData> {
  const walked = walkJpeg(input);
  if (walked.orientation === 1) return { bytes: walked.bytes, format: 'jpeg', removed: walked.removed, reencoded: false };
  try {
    // autoOrient turns the pixels upright; sharp writes no metadata unless asked to.
    const upright = await sharp(input, { failOn: 'error', ...(options.maxPixels === undefined ? {} : { limitInputPixels: options.maxPixels }) })
      .autoOrient()
      .jpeg({ quality: 92 })
      .toBuffer();
    return { bytes: upright, format: 'jpeg', removed: walked.removed, reencoded: true };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/pixel limit/i.test(message)) throw new EdgeError('EDGE_ERR_IMAGE_TOO_LARGE', `image exceeds the pixel limit: ${message}`, { cause: error });
    throw new EdgeError('EDGE_ERR_IMAGE_CORRUPT', `jpeg image is truncated or corrupt: ${message}`, { cause: error, details: { format: 'jpeg' } });
  }
}

/** The kept segments of a JPEG, what was dropped, and the EXIF orientation (1 when none). */
function walkJpeg(input: Buffer): Copied & { orientation: number } {
  const parts: Buffer[] = [input.subarray(0, 2)];
  const removed = new Set<string>();
  let orientation: number | undefined;
  let scans = 0;
  let at = 2;
  for (;;) {
    if (at + 1 >= input.length) throw imageCorrupt('jpeg', 'it ends before its end-of-image marker');
    if (input[at] !== 0xff) throw imageCorrupt('jpeg', `no marker at byte ${at}`);
    // Any number of 0xFF fill bytes may precede a marker.
    while (input[at + 1] === 0xff && at + 2 < input.length) at++;
    const marker = input[at + 1]!;
    if (marker === EOI) {
      if (scans === 0) throw imageCorrupt('jpeg', 'it has no image data (no start-of-scan segment)');
      parts.push(input.subarray(at, at + 2));
      if (at + 2 < input.length) removed.add('trailer');
      break;
    }
    if (marker === 0x00 || marker === 0xd8) throw imageCorrupt('jpeg', `unexpected marker 0xff${marker.toString(16).padStart(2, '0')} at byte ${at}`);
    // Restart markers and TEM stand alone: no length follows.
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      parts.push(input.subarray(at, at + 2));
      at += 2;
      continue;
    }
    if (at + 4 > input.length) throw imageCorrupt('jpeg', `the segment at byte ${at} is cut short`);
    const length = input.readUInt16BE(at + 2);
    const end = at + 2 + length;
    if (length < 2 || end > input.length) throw imageCorrupt('jpeg', `the segment 0xff${marker.toString(16)} at byte ${at} claims ${length} bytes, ${input.length - at - 2} remain`);
    const segment = input.subarray(at, end);
    const payload = input.subarray(at + 4, end);
    if ((marker >= APP0 && marker <= APP15) || marker === COM) {
      const verdict = judgeJpegSegment(marker, payload);
      if (verdict.name !== undefined) removed.add(verdict.name);
      if (verdict.keep !== undefined) parts.push(verdict.keep === 'whole' ? segment : verdict.keep);
      if (verdict.name === 'EXIF' && orientation === undefined) orientation = exifOrientation(payload.subarray(6));
    } else {
      parts.push(segment);
    }
    at = end;
    if (marker === SOS) {
      scans++;
      const dataEnd = entropyDataEnd(input, at);
      parts.push(input.subarray(at, dataEnd));
      at = dataEnd;
    }
  }
  return { bytes: Buffer.concat(parts), removed: [...removed], orientation: orientation ?? 1 };
}

/** Where the entropy-coded data after a SOS header ends: the first 0xFF that starts a real marker. */
function entropyDataEnd(input: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const found = input.indexOf(0xff, at);
    if (found < 0 || found + 1 >= input.length) throw imageCorrupt('jpeg', 'it ends inside the compressed image data');
    const next = input[found + 1]!;
    // 0xFF00 is a stuffed data byte, 0xFFD0-D7 a restart marker inside the scan, 0xFFFF fill.
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) at = found + 2;
    else if (next === 0xff) at = found + 1;
    else return found;
  }
}

/** name: what was dropped (undefined when nothing); keep: 'whole', a rewritten segment, or undefined. */
function judgeJpegSegment(marker: number, payload: Buffer): { keep?: 'whole' | Buffer; name?: string } {
  if (marker === COM) return { name: 'COM' };
  const app = marker - APP0;
  if (app === 0) {
    if (startsWithText(payload, 'JFIF\0')) return jfifWithoutThumbnail(payload);
    return { name: startsWithText(payload, 'JFXX\0') ? 'JFXX' : 'APP0' };
  }
  if (app === 1) {
    if (startsWithText(payload, 'Exif\0')) return { name: 'EXIF' };
    if (startsWithText(payload, 'http://ns.adobe.com/')) return { name: 'XMP' };
    return { name: 'APP1' };
  }
  if (app === 2) {
    if (startsWithText(payload, 'ICC_PROFILE\0')) return { keep: 'whole' };
    return { name: startsWithText(payload, 'MPF\0') ? 'MPF' : 'APP2' };
  }
  if (app === 13 && startsWithText(payload, 'Photoshop 3.0\0')) return { name: 'IPTC' };
  if (app === 14 && startsWithText(payload, 'Adobe')) return { keep: 'whole' };
  return { name: `APP${app}` };
}

/** The JFIF header (version, density) is kept; a thumbnail in it is a second copy of the picture. */
function jfifWithoutThumbnail(payload: Buffer): { keep: 'whole' | Buffer; name?: string } {
  const HEADER = 14; // 'JFIF\0', version 2, units 1, densities 2+2, thumbnail width and height 1+1
  if (payload.length < HEADER || (payload[12] === 0 && payload[13] === 0 && payload.length === HEADER)) return { keep: 'whole' };
  const segment = Buffer.alloc(4 + HEADER);
  segment.writeUInt16BE(0xffe0, 0);
  segment.writeUInt16BE(2 + HEADER, 2);
  payload.copy(segment, 4, 0, 12);
  return { keep: segment, name: 'JFIF thumbnail' };
}

/** Tag 0x0112 of IFD0 in a TIFF-structured EXIF block; 1 when absent or unreadable (viewers then show the pixels as stored). */
function exifOrientation(tiff: Buffer): number {
  if (tiff.length < 8) return 1;
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return 1;
  const little = order === 'II';
  const u16 = (at: number) => (little ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (little ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return 1;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return 1;
  const entries = u16(ifd);
  for (let index = 0; index < entries; index++) {
    const entry = ifd + 2 + index * 12;
    if (entry + 12 > tiff.length) return 1;
    if (u16(entry) !== 0x0112) continue;
    const SHORT = 3;
    if (u16(entry + 2) !== SHORT) return 1;
    const value = u16(entry + 8);
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

/** Ancillary chunks that change how the pixels look; every other ancillary chunk is dropped. */
const PNG_COLOUR_CHUNKS: ReadonlySet<string> = new Set(['tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'pHYs', 'cICP', 'mDCv', 'cLLi']);
const PNG_SIGNATURE_LENGTH = 8;
const PNG_MAX_CHUNK = 0x7fffffff;

function stripPng(input: Buffer): Copied {
  const parts: Buffer[] = [input.subarray(0, PNG_SIGNATURE_LENGTH)];
  const removed = new Set<string>();
  let at = PNG_SIGNATURE_LENGTH;
  let idat = false;
  for (;;) {
    if (at + 12 > input.length) throw imageCorrupt('png', 'it ends before its IEND chunk');
    const length = input.readUInt32BE(at);
    const type = input.toString('latin1', at + 4, at + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw imageCorrupt('png', `the chunk at byte ${at} has no valid type`);
    const end = at + 12 + length;
    if (length > PNG_MAX_CHUNK || end > input.length) throw imageCorrupt('png', `the ${type} chunk claims ${length} bytes, ${input.length - at - 12} remain`);
    if (at === PNG_SIGNATURE_LENGTH && type !== 'IHDR') throw imageCorrupt('png', `the first chunk is ${type}, not IHDR`);
    // An upper-case first letter marks a critical chunk: a decoder cannot do without it.
    const critical = type.charCodeAt(0) < 0x61;
    if (critical || PNG_COLOUR_CHUNKS.has(type)) {
      // Whole chunks are copied, so their CRCs stay valid; a wrong one means damaged data.
      if (crc32(input.subarray(at + 4, end - 4)) !== input.readUInt32BE(end - 4)) throw imageCorrupt('png', `the ${type} chunk fails its CRC`);
      parts.push(input.subarray(at, end));
    } else {
      removed.add(type);
    }
    if (type === 'IDAT') idat = true;
    at = end;
    if (type === 'IEND') break;
  }
  if (!idat) throw imageCorrupt('png', 'it has no IDAT chunk');
  if (at < input.length) removed.add('trailer');
  return { bytes: Buffer.concat(parts), removed: [...removed] };
}

// ---------------------------------------------------------------------------------------------
// RIFF: WebP and WAV
// ---------------------------------------------------------------------------------------------

const WEBP_KEPT_CHUNKS: ReadonlySet<string> = new Set(['VP8X', 'VP8 ', 'VP8L', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);
const WEBP_IMAGE_CHUNKS: ReadonlySet<string> = new Set(['VP8 ', 'VP8L', 'ANMF']);
/** VP8X flag bits announcing EXIF and XMP chunks (https://developers.google.com/speed/webp/docs/riff_container). */
const VP8X_EXIF_FLAG = 0x08;
const VP8X_XMP_FLAG = 0x04;

interface RiffChunk {
  id: string;
  body: Buffer;
}

/** A RIFF file from its form type and chunks: sizes written from the bytes, odd chunks padded. */
function writeRiff(form: string, chunks: readonly RiffChunk[]): Buffer {
  const parts: Buffer[] = [Buffer.alloc(12)];
  for (const chunk of chunks) {
    const header = Buffer.alloc(8);
    header.write(chunk.id, 0, 'latin1');
    header.writeUInt32LE(chunk.body.length, 4);
    parts.push(header, chunk.body);
    if (chunk.body.length % 2 === 1) parts.push(Buffer.alloc(1));
  }
  const bytes = Buffer.concat(parts);
  bytes.write('RIFF', 0, 'latin1');
  bytes.writeUInt32LE(bytes.length - 8, 4);
  bytes.write(form, 8, 'latin1');
  return bytes;
}

const nameOf = (id: string) => id.trimEnd();

function stripWebp(input: Buffer): Copied {
  // WebP, unlike WAV, has no streaming writers: its RIFF size is exact and bytes past it are not part of the file.
  const end = 8 + input.readUInt32LE(4);
  if (end > input.length) throw imageCorrupt('webp', `the RIFF header claims ${end} bytes, ${input.length} are present`);
  const kept: RiffChunk[] = [];
  const removed = new Set<string>();
  let at = 12;
  while (at < end) {
    if (at + 8 > end) throw imageCorrupt('webp', `the chunk header at byte ${at} is cut short`);
    const id = fourcc(input, at);
    const size = input.readUInt32LE(at + 4);
    const bodyEnd = at + 8 + size;
    if (bodyEnd > end) throw imageCorrupt('webp', `the "${id}" chunk claims ${size} bytes, ${end - at - 8} remain`);
    if (WEBP_KEPT_CHUNKS.has(id)) kept.push({ id, body: input.subarray(at + 8, bodyEnd) });
    else removed.add(nameOf(id));
    at = bodyEnd + (size & 1);
  }
  if (!kept.some((chunk) => WEBP_IMAGE_CHUNKS.has(chunk.id))) throw imageCorrupt('webp', 'it has no image chunk (VP8, VP8L or ANMF)');
  if (end < input.length) removed.add('trailer');
  const chunks = kept.map((chunk) => {
    if (chunk.id !== 'VP8X' || chunk.body.length < 1) return chunk;
    // The flags must not announce chunks that are gone.
    const body = Buffer.from(chunk.body);
    body[0] = body[0]! & ~(VP8X_EXIF_FLAG | VP8X_XMP_FLAG);
    return { id: chunk.id, body };
  });
  return { bytes: writeRiff('WEBP', chunks), removed: [...removed] };
}

const WAV_KEPT_CHUNKS: ReadonlySet<string> = new Set(['fmt ', 'fact', 'data']);
/** `data` sizes that mean "unknown length, read to the end": ffmpeg and sox writing to a pipe (as in speech/wav.ts). */
const UNKNOWN_DATA_SIZES: ReadonlySet<number> = new Set([0xffffffff, 0x7ffff000]);

function wavHeaderInvalid(chunk: string, message: string): EdgeError {
  return new EdgeError('EDGE_ERR_AUDIO_HEADER_INVALID', `invalid WAV header: ${message}`, { details: { chunk } });
}

/**
 * The chunk rules of decodeWav (speech/wav.ts), without decoding a sample: the RIFF size is not
 * trusted, a `data` chunk of unknown length runs to the end of the file, a missing final pad byte
 * is tolerated. The output's sizes are written from the bytes kept, so they are exact.
 */
function stripWav(input: Buffer): Copied {
  const kept: RiffChunk[] = [];
  const removed = new Set<string>();
  let format = false;
  let data = false;
  let at = 12;
  while (at + 8 <= input.length) {
    const id = fourcc(input, at);
    const size = input.readUInt32LE(at + 4);
    const body = at + 8;
    const present = input.length - body;
    if (id === 'data') {
      if (!format) throw wavHeaderInvalid('fmt ', 'the fmt chunk is missing or comes after the data chunk');
      data = true;
      if (UNKNOWN_DATA_SIZES.has(size) || (size === 0 && present > 0 && !isChunkSequence(input, body))) {
        kept.push({ id, body: input.subarray(body) });
        at = input.length;
        break;
      }
      if (size > present) {
        throw new EdgeError('EDGE_ERR_AUDIO_TRUNCATED', `the data chunk declares ${size} bytes but only ${present} are present`, {
          details: { declaredBytes: size, presentBytes: present },
        });
      }
    } else if (size > present) {
      throw wavHeaderInvalid(id, `the "${id}" chunk claims ${size} bytes but only ${present} follow it`);
    }
    if (id === 'fmt ') {
      if (format) throw wavHeaderInvalid('fmt ', 'the file has more than one fmt chunk');
      if (size < 16) throw wavHeaderInvalid('fmt ', `the fmt chunk is ${size} bytes, shorter than the 16 every WAV needs`);
      format = true;
    }
    if (WAV_KEPT_CHUNKS.has(id)) kept.push({ id, body: input.subarray(body, body + size) });
    else removed.add(nameOf(id));
    at = body + size + (size & 1);
  }
  if (!format) throw wavHeaderInvalid('fmt ', 'the file has no fmt chunk');
  if (!data) throw wavHeaderInvalid('data', 'the file has no data chunk');
  // Fewer than 8 bytes left over cannot be a chunk (a missing final pad byte leaves `at` past the end).
  if (at < input.length) removed.add('trailer');
  return { bytes: writeRiff('WAVE', kept), removed: [...removed] };
}

/** True when the bytes from `at` to the end are whole chunks (as in speech/wav.ts): a real empty data chunk is followed by such. */
function isChunkSequence(input: Buffer, from: number): boolean {
  let at = from;
  while (at < input.length) {
    if (at + 8 > input.length) return false;
    for (let index = 0; index < 4; index++) {
      const char = input[at + index]!;
      if (char < 0x20 || char > 0x7e) return false;
    }
    const size = input.readUInt32LE(at + 4);
    const end = at + 8 + size;
    if (end > input.length) return false;
    at = end + (size & 1);
    if (at > input.length) return end === input.length;
  }
  return true;
}
