/**
 * Strict WAV decoding: real files written by sox in every accepted layout (checked against sox's own
 * float output and against the sine that was written), a real voice recording, streaming headers,
 * and every way a file can lie, each answered with an exact code and its details.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeError } from '../../services/core/errors.ts';
import { decodeWav, type WavLimits } from '../../services/tasks/speech/wav.ts';
import { GOFORWARD_WAV, goforwardPcm } from '../support/real-speech.ts';
import { data, extensibleFmtBody, fmt, fmtBody, riff } from '../support/wav-builder.ts';

const LIMITS: WavLimits = { maxSeconds: 30, maxChannels: 8 };

let dir: string;

beforeAll(() => {
  try {
    execFileSync('sox', ['--version'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`these tests write their WAV files with sox, which is not runnable here (apt-get install sox): ${String(error)}`);
  }
  dir = mkdtempSync(path.join(os.tmpdir(), 'wav-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs sox with `args`, `{}` standing for a new file in the temp dir; returns that file's bytes. */
function soxFile(name: string, args: string[]): Uint8Array {
  const file = path.join(dir, name);
  execFileSync('sox', args.map((arg) => (arg === '{}' ? file : arg)), { stdio: 'pipe' });
  return new Uint8Array(readFileSync(file));
}

/** What sox itself decodes from `bytes`: mono (channels averaged) float32. */
function soxMono(bytes: Uint8Array): Float32Array {
  const raw = execFileSync('sox', ['-t', 'wav', '-', '-t', 'f32', '-c', '1', '-'], { input: bytes, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let index = 0; index < a.length; index++) worst = Math.max(worst, Math.abs(a[index]! - b[index]!));
  return worst;
}

/** Amplitude of the `frequency` component (least squares on sin and cos), and what remains unexplained. */
function fitSines(samples: Float32Array, rate: number, frequencies: number[]): { amplitudes: number[]; residualRms: number } {
  // Sines at distinct frequencies over many periods are near-orthogonal: project one at a time.
  const residual = Float64Array.from(samples);
  const amplitudes = frequencies.map((frequency) => {
    let s = 0;
    let c = 0;
    let ss = 0;
    let cc = 0;
    for (let n = 0; n < samples.length; n++) {
      const angle = (2 * Math.PI * frequency * n) / rate;
      s += samples[n]! * Math.sin(angle);
      c += samples[n]! * Math.cos(angle);
      ss += Math.sin(angle) ** 2;
      cc += Math.cos(angle) ** 2;
    }
    const a = s / ss;
    const b = c / cc;
    for (let n = 0; n < samples.length; n++) {
      const angle = (2 * Math.PI * frequency * n) / rate;
      residual[n]! -= a * Math.sin(angle) + b * Math.cos(angle);
    }
    return Math.hypot(a, b);
  });
  const residualRms = Math.sqrt(residual.reduce((sum, value) => sum + value * value, 0) / residual.length);
  return { amplitudes, residualRms };
}

const formatTagOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint16(20, true);

// ---- hand-built files, for the layouts sox never writes and for the lies -----------------------------

const pcm16 = (values: number[]) => new Uint8Array(Int16Array.from(values).buffer);
const float32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** The code and details a decode fails with. */
function failure(bytes: Uint8Array, limits: WavLimits = LIMITS): { code: string; details: unknown } {
  try {
    decodeWav(bytes, limits);
  } catch (error) {
    if (error instanceof EdgeError) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error('decodeWav accepted the file');
}

// ------------------------------------------------------------------------------------------------------

describe('decodeWav: real files from sox, every accepted layout', () => {
  const cases = [
    { name: 'pcm8-mono-8000', rate: 8000, channels: 1, bits: 8, args: ['-b', '8', '-e', 'unsigned-integer'], tag: 1, tolerance: 0.01 },
    { name: 'pcm16-stereo-44100', rate: 44100, channels: 2, bits: 16, args: ['-b', '16'], tag: 1, tolerance: 1e-3 },
    { name: 'pcm24-stereo-48000-plain', rate: 48000, channels: 2, bits: 24, args: ['-b', '24', '-t', 'wavpcm'], tag: 1, tolerance: 1e-3 },
    { name: 'pcm24-stereo-48000-extensible', rate: 48000, channels: 2, bits: 24, args: ['-b', '24'], tag: 0xfffe, tolerance: 1e-3 },
    { name: 'pcm32-mono-22050-plain', rate: 22050, channels: 1, bits: 32, args: ['-b', '32', '-t', 'wavpcm'], tag: 1, tolerance: 1e-3 },
    { name: 'pcm32-mono-22050-extensible', rate: 22050, channels: 1, bits: 32, args: ['-b', '32'], tag: 0xfffe, tolerance: 1e-3 },
    { name: 'float32-stereo-16000', rate: 16000, channels: 2, bits: 32, args: ['-b', '32', '-e', 'floating-point'], tag: 3, tolerance: 1e-3 },
    { name: 'pcm16-6ch-48000-extensible', rate: 48000, channels: 6, bits: 16, args: ['-b', '16'], tag: 0xfffe, tolerance: 1e-3 },
  ];

  it.each(cases)('$name: header fields, sox-identical samples, and the sine that was written', ({ name, rate, channels, bits, args, tag, tolerance }) => {
    // Channel 1 carries 440 Hz at 0.5, every other channel 660 Hz at 0.5: the mono mix is known exactly.
    const tones = Array.from({ length: channels }, (_, channel) => ['sine', channel === 0 ? '440' : '660']).flat();
    const bytes = soxFile(`${name}.wav`, ['-n', '-r', String(rate), '-c', String(channels), ...args, '{}', 'synth', '0.5', ...tones, 'vol', '0.5']);
    expect(formatTagOf(bytes)).toBe(tag); // the layout this case claims to cover

    const decoded = decodeWav(bytes, LIMITS);
    const format = args.includes('floating-point') ? 'float' : 'pcm';
    expect({ ...decoded, samples: undefined }).toEqual({ sampleRate: rate, channels, bitsPerSample: bits, format, frames: rate / 2, samples: undefined });
    expect(maxDifference(decoded.samples, soxMono(bytes))).toBeLessThan(1e-6);

    const expected = channels === 1 ? [0.5] : [0.5 / channels, (0.5 * (channels - 1)) / channels];
    const fit = fitSines(decoded.samples, rate, channels === 1 ? [440] : [440, 660]);
    fit.amplitudes.forEach((amplitude, index) => expect(amplitude).toBeCloseTo(expected[index]!, 2));
    expect(fit.residualRms).toBeLessThan(tolerance);
    expect(decoded.samples.every((value) => value >= -1 && value <= 1)).toBe(true);
  });

  it('full-scale integer extremes map to -1 and just under +1', () => {
    const bytes = riff([fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 }), data(pcm16([-32768, 32767, 0, 16384]))]);
    expect(Array.from(decodeWav(bytes, LIMITS).samples)).toEqual([-1, 32767 / 32768, 0, 0.5]);
  });

  it('extensible IEEE float (built by hand from sox float samples) decodes like the plain float file', () => {
    const plain = soxFile('float-source.wav', ['-n', '-r', '22050', '-c', '2', '-b', '32', '-e', 'floating-point', '{}', 'synth', '0.2', 'sine', '300', 'sine', '500', 'vol', '0.5']);
    const reference = decodeWav(plain, LIMITS);
    const raw = execFileSync('sox', [path.join(dir, 'float-source.wav'), '-t', 'f32', '-']);
    const bytes = riff([{ id: 'fmt ', body: extensibleFmtBody({ channels: 2, rate: 22050, bits: 32 }, 3) }, data(new Uint8Array(raw))]);
    const decoded = decodeWav(bytes, LIMITS);
    expect(decoded).toMatchObject({ format: 'float', channels: 2, sampleRate: 22050, bitsPerSample: 32, frames: reference.frames });
    expect(maxDifference(decoded.samples, reference.samples)).toBe(0);
  });

  it('float samples: NaN and +-Infinity become 0, values past full scale are clamped', () => {
    const bytes = riff([fmt({ tag: 3, channels: 1, rate: 8000, bits: 32 }), data(float32([NaN, Infinity, -Infinity, 2, -3, 0.25]))]);
    expect(Array.from(decodeWav(bytes, LIMITS).samples)).toEqual([0, 0, 0, 1, -1, 0.25]);
  });

  it('unknown chunks (LIST, an odd-sized one with its pad byte, bext) before and after fmt are skipped', () => {
    const samples = pcm16([1000, -1000, 2000, -2000]);
    const bytes = riff([
      { id: 'LIST', body: new Uint8Array(Buffer.from('INFOISFT\x05\x00\x00\x00sox!\x00\x00', 'latin1')) },
      fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 }),
      { id: 'junk', body: new Uint8Array([1, 2, 3]) }, // odd size: a pad byte follows
      { id: 'bext', body: new Uint8Array(602) },
      data(samples),
    ]);
    expect(Array.from(decodeWav(bytes, LIMITS).samples)).toEqual([1000, -1000, 2000, -2000].map((value) => value / 32768));
    // soxMono agrees: the same chunks are legal for a reference decoder too.
    expect(maxDifference(decodeWav(bytes, LIMITS).samples, soxMono(bytes))).toBe(0);
  });

  it('goforward.raw (a real voice, 16 kHz 16-bit mono) wrapped in a WAV header decodes sample for sample', () => {
    const raw = new Uint8Array(goforwardPcm());
    const bytes = riff([fmt({ tag: 1, channels: 1, rate: 16000, bits: 16 }), data(raw)]);
    const decoded = decodeWav(bytes, LIMITS);
    expect(decoded).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, format: 'pcm', frames: raw.length / 2 });
    const pcm = new Int16Array(raw.buffer, raw.byteOffset, raw.length / 2);
    expect(decoded.samples.every((value, index) => value === pcm[index]! / 32768)).toBe(true);
    const independent = execFileSync('sox', [GOFORWARD_WAV, '-t', 'f32', '-']);
    expect(maxDifference(decoded.samples, new Float32Array(independent.buffer, independent.byteOffset, independent.byteLength / 4))).toBe(0);
    // A voice, not silence: speech peaks well above its quiet parts.
    const peak = decoded.samples.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    expect(peak).toBeGreaterThan(0.1);
  });

  // A guard against an accidentally slow decoder (per-sample allocations: seconds), not a benchmark:
  // the machine is shared, so the bound is loose; typically 5-10 ms.
  it('a 30 s 48 kHz stereo 16-bit file (exactly the limit) decodes well within a second', () => {
    const bytes = soxFile('long.wav', ['-n', '-r', '48000', '-c', '2', '-b', '16', '{}', 'synth', '30', 'sine', '440', 'vol', '0.5']);
    expect(decodeWav(bytes, LIMITS).frames).toBe(30 * 48000); // also the warm-up
    // The best of five: the machine is shared (with model training, in CI), so single runs jitter.
    const times = Array.from({ length: 5 }, () => {
      const started = performance.now();
      decodeWav(bytes, LIMITS);
      return performance.now() - started;
    });
    expect(Math.min(...times), times.map((time) => time.toFixed(1)).join(', ')).toBeLessThan(1000);
  });
});

describe('decodeWav: headers of unknown length (streaming writers)', () => {
  it('sox writing to a pipe (data size 0x7FFFF000) is read to the end', () => {
    const bytes = new Uint8Array(execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-t', 'wav', '-', 'synth', '0.25', 'sine', '440', 'vol', '0.5']));
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(40, true)).toBe(0x7ffff000);
    const decoded = decodeWav(bytes, LIMITS);
    expect(decoded.frames).toBe(2000);
    expect(fitSines(decoded.samples, 8000, [440]).amplitudes[0]).toBeCloseTo(0.5, 3);
  });

  it('RIFF and data sizes 0xFFFFFFFF (ffmpeg to a pipe): to the end, whole frames only', () => {
    const body = new Uint8Array([...pcm16([100, 200, 300, 400, 500]), 0x7f]); // 2.75 stereo frames: 11 bytes
    const bytes = riff([fmt({ tag: 1, channels: 2, rate: 8000, bits: 16 }), { id: 'data', body, size: 0xffffffff, noPad: true }], { riffSize: 0xffffffff });
    const decoded = decodeWav(bytes, LIMITS);
    expect(decoded.frames).toBe(2);
    expect(Array.from(decoded.samples)).toEqual([150 / 32768, 350 / 32768]);
  });

  it('data size 0 with samples following is read to the end; 0 followed by whole chunks is an empty data chunk', () => {
    const streamed = riff([fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 }), data(pcm16([7, 8, 9]), 0)], { riffSize: 0 });
    expect(Array.from(decodeWav(streamed, LIMITS).samples)).toEqual([7, 8, 9].map((value) => value / 32768));

    const empty = riff([fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 }), data(new Uint8Array(0)), { id: 'LIST', body: new Uint8Array(Buffer.from('INFOabcd', 'latin1')) }]);
    expect(decodeWav(empty, LIMITS)).toMatchObject({ frames: 0, samples: new Float32Array(0) });
  });

  it('a RIFF size that disagrees with the file (too small, too large) is ignored', () => {
    const samples = pcm16([1, 2]);
    for (const riffSize of [4, 1_000_000]) {
      const bytes = riff([fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 }), data(samples)], { riffSize });
      expect(decodeWav(bytes, LIMITS).frames).toBe(2);
    }
  });
});

describe('decodeWav: BAD CALL - every lie is a coded error', () => {
  const mono16 = fmt({ tag: 1, channels: 1, rate: 8000, bits: 16 });

  it('BAD CALL - not RIFF/WAVE: PNG bytes, a text body, empty, 11 bytes, RIFF/AVI, RIFX -> FORMAT_UNSUPPORTED', () => {
    const png = pngBytes();
    const bodies = [png, Buffer.from('{"audio": "please transcribe"}'), new Uint8Array(0), Buffer.from('RIFF\x04\x00\x00\x00WAV', 'latin1'), riff([], { form: 'AVI ' })];
    const rifx = riff([mono16, data(pcm16([1]))]);
    rifx.set(Buffer.from('RIFX'), 0);
    for (const body of [...bodies, rifx]) {
      expect(failure(new Uint8Array(body))).toEqual({ code: 'EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', details: undefined });
    }
  });

  it('BAD CALL - fmt chunk size past the end of the file -> HEADER_INVALID (chunk fmt)', () => {
    const bytes = riff([{ id: 'fmt ', body: fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 16 }), size: 4096 }]);
    expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'fmt ' } });
  });

  it('BAD CALL - another chunk whose size runs past the end -> HEADER_INVALID naming it', () => {
    const bytes = riff([mono16, { id: 'LIST', body: new Uint8Array(10), size: 1_000_000 }, data(pcm16([1, 2]))]);
    expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'LIST' } });
  });

  it('BAD CALL - fmt shorter than 16 bytes, missing, repeated, or after data -> HEADER_INVALID (chunk fmt)', () => {
    const short = riff([{ id: 'fmt ', body: fmtBody({ tag: 1, channels: 1, rate: 8000, bits: 16 }).subarray(0, 14) }, data(pcm16([1]))]);
    const missing = riff([{ id: 'LIST', body: new Uint8Array(4) }]);
    const repeated = riff([mono16, mono16, data(pcm16([1]))]);
    const afterData = riff([data(pcm16([1, 2])), mono16]);
    const shortExtensible = riff([{ id: 'fmt ', body: extensibleFmtBody({ channels: 1, rate: 8000, bits: 16 }, 1).subarray(0, 24) }, data(pcm16([1]))]);
    for (const bytes of [short, missing, repeated, afterData, shortExtensible]) {
      expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'fmt ' } });
    }
  });

  it('BAD CALL - block alignment that is not channels x bytes per sample -> HEADER_INVALID (chunk fmt)', () => {
    const bytes = riff([fmt({ tag: 1, channels: 2, rate: 8000, bits: 16, blockAlign: 2 }), data(pcm16([1, 2]))]);
    expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'fmt ' } });
  });

  it('BAD CALL - no data chunk -> HEADER_INVALID (chunk data)', () => {
    expect(failure(riff([mono16]))).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'data' } });
    expect(failure(riff([mono16, { id: 'LIST', body: new Uint8Array(6) }]))).toEqual({ code: 'EDGE_ERR_AUDIO_HEADER_INVALID', details: { chunk: 'data' } });
  });

  it('BAD CALL - 0 channels, or more than maxChannels -> CHANNELS_INVALID', () => {
    expect(failure(riff([fmt({ tag: 1, channels: 0, rate: 8000, bits: 16, blockAlign: 0 }), data(pcm16([1]))]))).toEqual({
      code: 'EDGE_ERR_AUDIO_CHANNELS_INVALID',
      details: { channels: 0 },
    });
    const nine = soxFile('nine.wav', ['-n', '-r', '8000', '-c', '9', '-b', '16', '{}', 'synth', '0.05', 'sine', '440']);
    expect(failure(nine)).toEqual({ code: 'EDGE_ERR_AUDIO_CHANNELS_INVALID', details: { channels: 9 } });
    expect(decodeWav(nine, { maxSeconds: 30, maxChannels: 9 }).channels).toBe(9);
  });

  it('BAD CALL - 0 Hz, 3999 Hz, 384001 Hz -> SAMPLE_RATE_INVALID; 4000 and 384000 pass', () => {
    for (const rate of [0, 3999, 384001]) {
      expect(failure(riff([fmt({ tag: 1, channels: 1, rate, bits: 16 }), data(pcm16([1]))]))).toEqual({
        code: 'EDGE_ERR_AUDIO_SAMPLE_RATE_INVALID',
        details: { sampleRate: rate },
      });
    }
    for (const rate of [4000, 384000]) expect(decodeWav(riff([fmt({ tag: 1, channels: 1, rate, bits: 16 }), data(pcm16([1]))]), LIMITS).sampleRate).toBe(rate);
  });

  it('BAD CALL - MS ADPCM and IMA ADPCM (real sox files), MP3 (tag 0x0055) -> CODEC_UNSUPPORTED', () => {
    const msAdpcm = soxFile('ms-adpcm.wav', ['-n', '-r', '8000', '-e', 'ms-adpcm', '{}', 'synth', '0.1', 'sine', '440']);
    expect(failure(msAdpcm)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 0x0002, bitsPerSample: 4 } });
    const imaAdpcm = soxFile('ima-adpcm.wav', ['-n', '-r', '8000', '-e', 'ima-adpcm', '{}', 'synth', '0.1', 'sine', '440']);
    expect(failure(imaAdpcm)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 0x0011, bitsPerSample: 4 } });
    const mp3 = riff([fmt({ tag: 0x0055, channels: 2, rate: 44100, bits: 0, blockAlign: 1 }), data(new Uint8Array(417))]);
    expect(failure(mp3)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 0x0055, bitsPerSample: 0 } });
  });

  it('BAD CALL - 12-bit PCM, 16-bit float, 64-bit float (real sox file) -> CODEC_UNSUPPORTED', () => {
    const pcm12 = riff([fmt({ tag: 1, channels: 1, rate: 8000, bits: 12, blockAlign: 2 }), data(pcm16([16, 32]))]);
    expect(failure(pcm12)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 1, bitsPerSample: 12 } });
    const float16 = riff([fmt({ tag: 3, channels: 1, rate: 8000, bits: 16 }), data(pcm16([16, 32]))]);
    expect(failure(float16)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 3, bitsPerSample: 16 } });
    const float64 = soxFile('float64.wav', ['-n', '-r', '8000', '-b', '64', '-e', 'floating-point', '{}', 'synth', '0.1', 'sine', '440']);
    expect(failure(float64)).toEqual({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 3, bitsPerSample: 64 } });
  });

  it('BAD CALL - extensible whose sub-format is ADPCM, or not the standard GUID -> CODEC_UNSUPPORTED', () => {
    const adpcm = riff([{ id: 'fmt ', body: extensibleFmtBody({ channels: 1, rate: 8000, bits: 16 }, 2) }, data(pcm16([1]))]);
    expect(failure(adpcm)).toEqual({
      code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED',
      details: { formatTag: 0xfffe, bitsPerSample: 16, subFormat: '0200000000001000800000aa00389b71' },
    });
    const foreign = riff([{ id: 'fmt ', body: extensibleFmtBody({ channels: 1, rate: 8000, bits: 16 }, 1, new Array(12).fill(0x42)) }, data(pcm16([1]))]);
    expect(failure(foreign)).toMatchObject({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 0xfffe, bitsPerSample: 16 } });
  });

  it('BAD CALL - a data size larger than what is present (an upload cut short) -> TRUNCATED', () => {
    const whole = soxFile('cut.wav', ['-n', '-r', '8000', '-c', '2', '-b', '16', '{}', 'synth', '0.1', 'sine', '440']);
    // 0.1 s x 8000 x 4 bytes = 3200 declared; cut 1000 bytes, then cut mid-frame (2 bytes into a 4-byte frame).
    expect(failure(whole.subarray(0, whole.length - 1000))).toEqual({ code: 'EDGE_ERR_AUDIO_TRUNCATED', details: { declaredBytes: 3200, presentBytes: 2200, frameBytes: 4 } });
    expect(failure(whole.subarray(0, whole.length - 2))).toEqual({ code: 'EDGE_ERR_AUDIO_TRUNCATED', details: { declaredBytes: 3200, presentBytes: 3198, frameBytes: 4 } });
  });

  it('BAD CALL - a data size that ends mid-frame, all of it present -> TRUNCATED', () => {
    const stereo16 = fmt({ tag: 1, channels: 2, rate: 8000, bits: 16 });
    const bytes = riff([stereo16, data(new Uint8Array(10))]); // 2.5 frames of 4 bytes
    expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_TRUNCATED', details: { declaredBytes: 10, presentBytes: 10, frameBytes: 4 } });
  });

  it('BAD CALL - longer than maxSeconds, judged from the header before any sample is read -> TOO_LONG', () => {
    // 31 s of 48 kHz stereo 16-bit declared, no body sent at all: had the samples been read first,
    // this would be TRUNCATED; it is TOO_LONG, and instant.
    const declared = 31 * 48000 * 4;
    const bytes = riff([fmt({ tag: 1, channels: 2, rate: 48000, bits: 16 }), data(new Uint8Array(0), declared)]);
    const started = performance.now();
    expect(failure(bytes)).toEqual({ code: 'EDGE_ERR_AUDIO_TOO_LONG', details: { seconds: 31, maxSeconds: 30 } });
    expect(performance.now() - started).toBeLessThan(5);
    // An hour, declared in a 44-byte file.
    const hour = riff([fmt({ tag: 1, channels: 1, rate: 16000, bits: 16 }), data(new Uint8Array(0), 3600 * 16000 * 2)]);
    expect(failure(hour)).toEqual({ code: 'EDGE_ERR_AUDIO_TOO_LONG', details: { seconds: 3600, maxSeconds: 30 } });
    // A streamed file of unknown length is measured by what is present.
    const streamed = riff([fmt({ tag: 1, channels: 1, rate: 4000, bits: 8 }), data(new Uint8Array(4000 * 2 + 40), 0xffffffff)]);
    expect(failure(streamed, { maxSeconds: 2, maxChannels: 1 })).toEqual({ code: 'EDGE_ERR_AUDIO_TOO_LONG', details: { seconds: 2.01, maxSeconds: 2 } });
    // Just over the limit reads as over it (rounded up to the millisecond), never as equal.
    const oneFrameOver = riff([fmt({ tag: 1, channels: 1, rate: 44100, bits: 16 }), data(new Uint8Array(0), (2 * 44100 + 1) * 2)]);
    expect(failure(oneFrameOver, { maxSeconds: 2, maxChannels: 1 })).toEqual({ code: 'EDGE_ERR_AUDIO_TOO_LONG', details: { seconds: 2.001, maxSeconds: 2 } });
  });
});

/** The leading bytes of a real PNG from the fixtures. */
function pngBytes(): Uint8Array {
  return new Uint8Array(readFileSync(path.join(import.meta.dirname, '../fixtures/images/astronaut.png')).subarray(0, 4096));
}
