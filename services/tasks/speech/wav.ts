/**
 * Strict WAV decoding for speech recognition: untrusted RIFF/WAVE bytes in, mono float32 samples in
 * [-1, 1] at the file's own rate out (resample.ts takes them to 16 kHz). Every way a file can lie is
 * a coded EdgeError, never a crash and never a read past the bytes present.
 *
 * Accepted: `fmt ` tag 1 (PCM: 8-bit unsigned, 16/24/32-bit signed little-endian), tag 3 (32-bit
 * IEEE float), and WAVE_FORMAT_EXTENSIBLE (0xFFFE) whose sub-format GUID is PCM or IEEE float, with
 * the same sample sizes (the container size counts; wValidBitsPerSample and the channel mask are
 * ignored, since valid bits are left-justified and every channel is mixed down anyway). Channels
 * are mixed to mono by averaging.
 *
 * Choices, deliberately:
 * - 64-bit float is refused (EDGE_ERR_AUDIO_CODEC_UNSUPPORTED), as docs/errors.md promises: only
 *   PCM 8/16/24/32 and float 32 are decoded. RIFX (big-endian) and RF64 are not RIFF/WAVE here.
 * - The RIFF size is not trusted and not checked: streaming writers put 0, 0xFFFFFFFF or a guess
 *   there. Safety comes from checking every chunk against the bytes actually present.
 * - Chunks other than `fmt ` and `data` (LIST, fact, bext, id3...) are skipped, honouring the pad
 *   byte after an odd-sized chunk; a pad byte missing at the very end of the file is tolerated.
 *   A skipped chunk whose size runs past the end is EDGE_ERR_AUDIO_HEADER_INVALID (`details.chunk`).
 * - `fmt ` missing, shorter than 16 bytes, running past the end, repeated, or after `data`, an
 *   extensible `fmt ` shorter than 40 bytes, or a block alignment other than channels x bytes per
 *   sample: EDGE_ERR_AUDIO_HEADER_INVALID with `details.chunk` 'fmt '. No `data`: 'data'.
 *   The byte-rate field is redundant (rate x block alignment) and ignored, as decoders commonly do.
 * - The `fmt ` fields are checked in this order: format tag, channels (0 or > maxChannels), sample
 *   rate (4000..384000 Hz), sample size, block alignment; the first failure is reported.
 *   EDGE_ERR_AUDIO_CODEC_UNSUPPORTED carries `details.formatTag` and `details.bitsPerSample`; for an
 *   extensible file formatTag is the sub-format's tag (3 for 64-bit float), or 0xFFFE with
 *   `details.subFormat` (the GUID's bytes in hex) when the sub-format is not PCM or float.
 * - `data` of unknown length: a size of 0xFFFFFFFF (ffmpeg to a pipe), 0x7FFFF000 (sox to a pipe),
 *   or 0 with bytes following that are not a well-formed chunk sequence, is read to the end of the
 *   file, whole frames only (a trailing partial frame is dropped: a cut stream promised nothing).
 *   A size of 0 followed by well-formed chunks is a real empty `data` chunk.
 * - A declared `data` size larger than the bytes present, or not a whole number of frames, is
 *   EDGE_ERR_AUDIO_TRUNCATED (`details.declaredBytes`, `details.presentBytes`, and `frameBytes` to
 *   explain the second case). Bytes after the `data` chunk are not read.
 * - EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED (not RIFF/WAVE in the first 12 bytes) has no details, as
 *   docs/errors.md names none; the message says what the body looked like.
 * - The duration is checked from the header (declared size, or bytes present when unknown) BEFORE
 *   the truncation check and before any sample is decoded, so a header claiming an hour costs
 *   nothing and answers EDGE_ERR_AUDIO_TOO_LONG even when the body was never sent. Its
 *   `details.seconds` is rounded up to the millisecond (never shown equal to `details.maxSeconds`).
 * - An empty `data` chunk decodes to 0 frames; whether that is worth recognising is the caller's call.
 * - Integer PCM maps to [-1, 1) by dividing by 2^(bits-1); float samples are clamped to [-1, 1]
 *   (float WAVs may carry headroom above full scale) and NaN or +-Infinity become 0, so one bad
 *   sample cannot poison a whole feature window downstream.
 */
import { EdgeError } from '../../core/errors.ts';

export interface WavLimits {
  /** Longest audio accepted, in seconds (config speech.maxAudioSeconds). */
  maxSeconds: number;
  /** Most channels accepted before mixing down. */
  maxChannels: number;
}

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  format: 'pcm' | 'float';
  frames: number;
  /** Mono (channels averaged), at sampleRate, in [-1, 1]. */
  samples: Float32Array;
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
/** The 12 bytes after the leading tag of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT (xxxxxxxx-0000-0010-8000-00aa00389b71). */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const MIN_SAMPLE_RATE = 4000;
const MAX_SAMPLE_RATE = 384000;
/** `data` sizes that mean "unknown length, read to the end": ffmpeg and sox writing to a pipe. */
const UNKNOWN_DATA_SIZES: ReadonlySet<number> = new Set([0xffffffff, 0x7ffff000]);

interface WavFormat {
  formatTag: number;
  format: 'pcm' | 'float';
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign: number;
}

export function decodeWav(bytes: Uint8Array, limits: WavLimits): DecodedWav {
  if (bytes.length < 12 || fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    throw new EdgeError('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', `the body is not a RIFF/WAVE file (${describeLeadingBytes(bytes)})`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: WavFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = fourcc(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'data') {
      if (format === undefined) throw headerInvalid('fmt ', 'the fmt chunk is missing or comes after the data chunk');
      return decodeData(view, body, size, format, limits);
    }
    if (body + size > bytes.length) {
      throw headerInvalid(id, `the "${id}" chunk claims ${size} bytes but only ${bytes.length - body} follow it`);
    }
    if (id === 'fmt ') {
      if (format !== undefined) throw headerInvalid('fmt ', 'the file has more than one fmt chunk');
      format = readFormat(view, body, size, limits);
    }
    offset = body + size + (size & 1);
  }
  if (format === undefined) throw headerInvalid('fmt ', 'the file has no fmt chunk');
  throw headerInvalid('data', 'the file has no data chunk');
}

function readFormat(view: DataView, at: number, size: number, limits: WavLimits): WavFormat {
  if (size < 16) throw headerInvalid('fmt ', `the fmt chunk is ${size} bytes, shorter than the 16 every WAV needs`);
  let formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);

  if (formatTag === FORMAT_EXTENSIBLE) {
    if (size < 40) throw headerInvalid('fmt ', `an extensible fmt chunk needs 40 bytes, this one has ${size}`);
    const subFormat = view.getUint32(at + 24, true);
    const standardGuid = SUBFORMAT_GUID_TAIL.every((value, index) => view.getUint8(at + 28 + index) === value);
    if (!standardGuid || (subFormat !== FORMAT_PCM && subFormat !== FORMAT_FLOAT)) {
      throw new EdgeError('EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', 'the extensible WAV sub-format is neither PCM nor IEEE float', {
        details: { formatTag, bitsPerSample, subFormat: subFormatGuid(view, at + 24) },
      });
    }
    formatTag = subFormat;
  }
  if (formatTag !== FORMAT_PCM && formatTag !== FORMAT_FLOAT) {
    throw codecUnsupported(formatTag, bitsPerSample, `WAV format tag 0x${formatTag.toString(16).padStart(4, '0')} is not PCM or IEEE float`);
  }
  if (channels === 0 || channels > limits.maxChannels) {
    throw new EdgeError('EDGE_ERR_AUDIO_CHANNELS_INVALID', `the WAV declares ${channels} channels; 1 to ${limits.maxChannels} are accepted`, {
      details: { channels },
    });
  }
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw new EdgeError('EDGE_ERR_AUDIO_SAMPLE_RATE_INVALID', `the WAV declares ${sampleRate} Hz; ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz are accepted`, {
      details: { sampleRate },
    });
  }
  const format = formatTag === FORMAT_FLOAT ? 'float' : 'pcm';
  const sizeAccepted = format === 'float' ? bitsPerSample === 32 : [8, 16, 24, 32].includes(bitsPerSample);
  if (!sizeAccepted) {
    throw codecUnsupported(formatTag, bitsPerSample, `${bitsPerSample}-bit ${format === 'float' ? 'float' : 'PCM'} is not decoded (PCM 8/16/24/32-bit and float 32-bit are)`);
  }
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw headerInvalid('fmt ', `block alignment ${blockAlign} is not ${channels} channels x ${bitsPerSample / 8} bytes`);
  }
  return { formatTag, format, channels, sampleRate, bitsPerSample, blockAlign };
}

function decodeData(view: DataView, start: number, declared: number, format: WavFormat, limits: WavLimits): DecodedWav {
  const present = view.byteLength - start;
  const unknownLength = UNKNOWN_DATA_SIZES.has(declared) || (declared === 0 && present > 0 && !isChunkSequence(view, start));
  const frameBytes = format.blockAlign;
  // From the header alone: nothing is decoded (or even required to be present) before this check.
  const headerFrames = Math.floor((unknownLength ? present : declared) / frameBytes);
  if (headerFrames > limits.maxSeconds * format.sampleRate) {
    // Rounded up to the millisecond, so a file just over the limit never reads as equal to it.
    const seconds = Math.ceil((headerFrames * 1000) / format.sampleRate) / 1000;
    throw new EdgeError('EDGE_ERR_AUDIO_TOO_LONG', `the audio lasts ${seconds} s; at most ${limits.maxSeconds} s are accepted`, {
      details: { seconds, maxSeconds: limits.maxSeconds },
    });
  }
  if (!unknownLength && (declared > present || declared % frameBytes !== 0)) {
    const why = declared > present ? `only ${present} are present` : `that is not a whole number of ${frameBytes}-byte frames`;
    throw new EdgeError('EDGE_ERR_AUDIO_TRUNCATED', `the data chunk declares ${declared} bytes but ${why}`, {
      details: { declaredBytes: declared, presentBytes: present, frameBytes },
    });
  }
  const samples = new Float32Array(headerFrames);
  mixDown(view, start, headerFrames, format, samples);
  return {
    sampleRate: format.sampleRate,
    channels: format.channels,
    bitsPerSample: format.bitsPerSample,
    format: format.format,
    frames: headerFrames,
    samples,
  };
}

/**
 * Averages each frame's channels into `out`. One small function per sample type, so each hot loop
 * stays monomorphic and branch-free (a shared loop with a switch was deoptimised by V8 after a few
 * calls and ran six times slower).
 */
function mixDown(view: DataView, start: number, frames: number, format: WavFormat, out: Float32Array): void {
  const { channels, bitsPerSample } = format;
  if (format.format === 'float') return mixFloat32(view, start, frames, channels, out);
  const scale = 1 / (channels * 2 ** (bitsPerSample - 1));
  if (bitsPerSample === 8) return mixUint8(view, start, frames, channels, scale, out);
  if (bitsPerSample === 16) return mixInt16(view, start, frames, channels, scale, out);
  if (bitsPerSample === 24) return mixInt24(view, start, frames, channels, scale, out);
  return mixInt32(view, start, frames, channels, scale, out);
}

function mixUint8(view: DataView, start: number, frames: number, channels: number, scale: number, out: Float32Array): void {
  for (let frame = 0, at = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at++) sum += view.getUint8(at) - 128;
    out[frame] = sum * scale;
  }
}

function mixInt16(view: DataView, start: number, frames: number, channels: number, scale: number, out: Float32Array): void {
  for (let frame = 0, at = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at += 2) sum += view.getInt16(at, true);
    out[frame] = sum * scale;
  }
}

function mixInt24(view: DataView, start: number, frames: number, channels: number, scale: number, out: Float32Array): void {
  for (let frame = 0, at = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at += 3) {
      // Three bytes little-endian into the top of an int32, then an arithmetic shift back: sign-extended.
      sum += ((view.getUint8(at) << 8) | (view.getUint8(at + 1) << 16) | (view.getUint8(at + 2) << 24)) >> 8;
    }
    out[frame] = sum * scale;
  }
}

function mixInt32(view: DataView, start: number, frames: number, channels: number, scale: number, out: Float32Array): void {
  for (let frame = 0, at = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at += 4) sum += view.getInt32(at, true);
    out[frame] = sum * scale;
  }
}

function mixFloat32(view: DataView, start: number, frames: number, channels: number, out: Float32Array): void {
  const scale = 1 / channels;
  for (let frame = 0, at = start; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, at += 4) {
      const value = view.getFloat32(at, true);
      // NaN and +-Infinity become 0 (one bad sample must not poison a feature window downstream);
      // headroom above full scale is clamped to [-1, 1]. NaN fails every comparison, hence `value === value`.
      sum += value >= 1 ? (value === Infinity ? 0 : 1) : value <= -1 ? (value === -Infinity ? 0 : -1) : value === value ? value : 0;
    }
    out[frame] = sum * scale;
  }
}

/** True when the bytes from `at` to the end are whole chunks (printable ids, sizes that fit): a real empty data chunk is followed by such. */
function isChunkSequence(view: DataView, at: number): boolean {
  let offset = at;
  while (offset < view.byteLength) {
    if (offset + 8 > view.byteLength) return false;
    for (let index = 0; index < 4; index++) {
      const char = view.getUint8(offset + index);
      if (char < 0x20 || char > 0x7e) return false;
    }
    const size = view.getUint32(offset + 4, true);
    const end = offset + 8 + size;
    if (end > view.byteLength) return false;
    offset = end + (size & 1);
    if (offset > view.byteLength) return end === view.byteLength; // a missing final pad byte
  }
  return true;
}

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}

/** The sub-format GUID as its 16 bytes in file order, in hex (what a hex dump of the file shows). */
function subFormatGuid(view: DataView, at: number): string {
  return Array.from({ length: 16 }, (_, index) => view.getUint8(at + index).toString(16).padStart(2, '0')).join('');
}

function describeLeadingBytes(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the body is empty';
  if (bytes.length < 12) return `only ${bytes.length} bytes`;
  const head = fourcc(bytes, 0);
  if (head === 'RIFX') return 'big-endian RIFX is not supported';
  if (head === 'RF64') return 'RF64 is not supported';
  if (head === 'RIFF') return `a RIFF file of type "${fourcc(bytes, 8)}"`;
  return `it starts with bytes ${Buffer.from(bytes.subarray(0, 4)).toString('hex')}`;
}

function headerInvalid(chunk: string, message: string): EdgeError {
  return new EdgeError('EDGE_ERR_AUDIO_HEADER_INVALID', `invalid WAV header: ${message}`, { details: { chunk } });
}

function codecUnsupported(formatTag: number, bitsPerSample: number, message: string): EdgeError {
  return new EdgeError('EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', message, { details: { formatTag, bitsPerSample } });
}
