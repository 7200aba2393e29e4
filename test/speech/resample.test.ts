/**
 * Resampling to 16 kHz: pass band kept (0..7 kHz within 0.5 dB), anything above 8 kHz kept out of
 * the output (>= 40 dB down), no delay, the promised length, upsampling of telephone audio, a real
 * voice through a round trip with sox, and the speed a 30 s clip needs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resampleTo16k } from '../../services/tasks/speech/resample.ts';
import { GOFORWARD_WAV, goforwardPcm } from '../support/real-speech.ts';


function sine(rate: number, frequency: number, seconds: number, amplitude = 0.5): Float32Array {
  const samples = new Float32Array(Math.round(rate * seconds));
  for (let n = 0; n < samples.length; n++) samples[n] = amplitude * Math.sin((2 * Math.PI * frequency * n) / rate);
  return samples;
}

/** The middle of a signal, away from the kernel's reach into the silence at both ends. */
const middle = (samples: Float32Array) => samples.subarray(1600, samples.length - 1600);

function rms(samples: Float32Array): number {
  let sum = 0;
  for (const value of samples) sum += value * value;
  return Math.sqrt(sum / samples.length);
}

/** Gain of a sine of amplitude 0.5 through the resampler, in dB, measured on the output's middle. */
function gainDb(rate: number, frequency: number): number {
  const out = resampleTo16k(sine(rate, frequency, 1), rate);
  return 20 * Math.log10(rms(middle(out)) / (0.5 / Math.SQRT2));
}

/** Amplitude of one frequency's component (projection on sin and cos over the whole signal). */
function component(samples: Float32Array, rate: number, frequency: number): number {
  let s = 0;
  let c = 0;
  for (let n = 0; n < samples.length; n++) {
    const angle = (2 * Math.PI * frequency * n) / rate;
    s += samples[n]! * Math.sin(angle);
    c += samples[n]! * Math.cos(angle);
  }
  return (2 / samples.length) * Math.hypot(s, c);
}

describe('resampleTo16k', () => {
  it('16 kHz input is returned as it is', () => {
    const samples = sine(16000, 440, 0.1);
    expect(resampleTo16k(samples, 16000)).toBe(samples);
  });

  it('output length is round(n x 16000 / rate)', () => {
    for (const rate of [4000, 8000, 11025, 22050, 32000, 44100, 44101, 48000, 96000, 384000]) {
      for (const n of [0, 1, 2, 999, 12345, rate]) {
        expect(resampleTo16k(new Float32Array(n), rate).length, `${n} samples at ${rate} Hz`).toBe(Math.round((n * 16000) / rate));
      }
    }
  });

  it('1 kHz through 44.1k -> 16k and 8k -> 16k: same amplitude (0.5 dB), same frequency, no delay', () => {
    for (const rate of [44100, 8000, 48000, 22050]) {
      const out = resampleTo16k(sine(rate, 1000, 1), rate);
      expect(Math.abs(gainDb(rate, 1000)), `${rate} Hz`).toBeLessThan(0.5);
      // Sample for sample the sine that 16 kHz sampling of the same tone gives: frequency and phase
      // both right (a delay of one output sample would leave an error of 0.19).
      const ideal = middle(sine(16000, 1000, 1));
      const worst = middle(out).reduce((max, value, index) => Math.max(max, Math.abs(value - ideal[index]!)), 0);
      expect(worst, `${rate} Hz`).toBeLessThan(0.005);
      const crossings = middle(out).reduce((count, value, index, all) => count + (index > 0 && Math.sign(value) !== Math.sign(all[index - 1]!) ? 1 : 0), 0);
      expect(Math.abs(crossings - (2 * 1000 * middle(out).length) / 16000)).toBeLessThanOrEqual(2);
    }
  });

  it('the 0..7 kHz band is kept within 0.5 dB from 22.05, 44.1 and 48 kHz (0..3.4 kHz from 8 kHz)', () => {
    for (const rate of [22050, 44100, 48000, 44101]) {
      for (const frequency of [50, 300, 1000, 2500, 4000, 5500, 6500, 7000]) {
        expect(Math.abs(gainDb(rate, frequency)), `${frequency} Hz at ${rate} Hz`).toBeLessThan(0.5);
      }
    }
    for (const frequency of [50, 300, 1000, 2500, 3400]) {
      expect(Math.abs(gainDb(8000, frequency)), `${frequency} Hz at 8000 Hz`).toBeLessThan(0.5);
    }
  });

  it('tones above 8 kHz (which would alias into the speech band) come out >= 40 dB down', () => {
    for (const rate of [22050, 44100, 48000, 96000]) {
      for (const frequency of [8100, 8500, 10000, 12000, 15000, 20000, 40000]) {
        if (frequency >= rate / 2) continue;
        expect(gainDb(rate, frequency), `${frequency} Hz at ${rate} Hz`).toBeLessThan(-40);
      }
    }
  });

  it('upsampling 8 kHz leaves no image: a 3 kHz tone has no 5 kHz mirror (>= 40 dB down)', () => {
    const out = middle(resampleTo16k(sine(8000, 3000, 1), 8000));
    expect(component(out, 16000, 3000)).toBeCloseTo(0.5, 2);
    expect(20 * Math.log10(component(out, 16000, 5000) / 0.5)).toBeLessThan(-40);
  });

  it('DC passes with unit gain; silence stays silence', () => {
    for (const rate of [8000, 44100, 48000, 44101]) {
      const out = middle(resampleTo16k(new Float32Array(rate).fill(0.25), rate));
      expect(out.every((value) => Math.abs(value - 0.25) < 1e-6), `${rate} Hz`).toBe(true);
      expect(resampleTo16k(new Float32Array(rate), rate).every((value) => value === 0)).toBe(true);
    }
  });

  it('a real voice through sox to 44.1 kHz and back here matches the original below 7 kHz', () => {
    const raw = goforwardPcm();
    const pcm = new Int16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const original = Float32Array.from(pcm, (value) => value / 32768);
    const upsampled = execFileSync('sox', [GOFORWARD_WAV, '-t', 'f32', '-r', '44100', '-']);
    const at44k = new Float32Array(upsampled.buffer, upsampled.byteOffset, upsampled.byteLength / 4);
    const back = resampleTo16k(at44k, 44100);
    expect(Math.abs(back.length - original.length)).toBeLessThanOrEqual(1);
    // The only difference allowed is the 7..8 kHz edge of the voice that the low-pass removes.
    const error = new Float32Array(original.length - 3200);
    for (let index = 0; index < error.length; index++) error[index] = back[index + 1600]! - original[index + 1600]!;
    const snrDb = 20 * Math.log10(rms(original.subarray(1600, original.length - 1600)) / rms(error));
    expect(snrDb).toBeGreaterThan(30);
  });

  // A guard against an accidentally quadratic or per-sample-kernel resampler (seconds), not a
  // benchmark: this machine is shared, so the bound is loose (bench:asr measures the speed).
  it('30 s at 48 kHz (and 44.1 kHz) resample in well under a second', () => {
    for (const rate of [48000, 44100]) {
      const input = sine(rate, 1000, 30);
      resampleTo16k(input, rate); // warm-up: builds and caches the kernel, lets V8 optimise
      const times = [0, 1, 2].map(() => {
        const started = performance.now();
        resampleTo16k(input, rate);
        return performance.now() - started;
      });
      expect(Math.min(...times), `${rate} Hz: ${times.map((time) => time.toFixed(1)).join(', ')} ms`).toBeLessThan(1000);
    }
  });

  it('BAD CALL - a rate that is not a positive integer is a programming error (RangeError)', () => {
    for (const rate of [0, -8000, 44100.5, Number.NaN]) expect(() => resampleTo16k(new Float32Array(10), rate)).toThrow(RangeError);
  });
});
