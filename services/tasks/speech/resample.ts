/**
 * Resampling to 16 kHz, the rate speech models are trained at: a band-limited, Kaiser-windowed sinc
 * interpolator (Smith's bandlimited interpolation, computed exactly as a polyphase filter).
 *
 * Why written here rather than taken from npm: it is small, has no native parts, and the guarantees
 * that matter for recognition are pinned by tests: 0..7 kHz kept within 0.5 dB, anything above 8 kHz
 * (which would fold back into the speech band) attenuated by more than 40 dB, no delay (output
 * sample n is the input at time n / 16000 s), length round(n x 16000 / rate).
 *
 * Design: the low-pass cut-off is placed relative to the lower of the two rates (a transition band
 * from 7/16 to 8/16 of it: 7..8 kHz when downsampling, 3.5..4 kHz when upsampling 8 kHz telephone
 * audio, whose useful band ends at 3.4 kHz). The kernel spans HALF_WIDTH periods of that lower
 * rate each side (about 21, from Kaiser's formulas for 46 dB), with a Kaiser window. Output position n
 * falls at input time n x M / L (L/M = 16000/rate in lowest terms); its fractional part selects one
 * of L precomputed phases. Rates whose L is huge (a rate sharing few factors with 16000, e.g.
 * 44101 Hz) use PHASES_MAX phases and the nearest one: a timing error under 1/4096 of an input
 * sample, far below the 16-bit noise floor for speech frequencies. Each phase is normalised to unit
 * DC gain. Samples before the start and after the end count as silence.
 */

export const TARGET_RATE = 16000;

/** Transition band, as fractions of the lower rate: pass up to 7/16, stop from 8/16 (its Nyquist). */
const PASS_EDGE = 7 / 16;
const STOP_EDGE = 8 / 16;
/** Stop-band attenuation designed for (the contract is 40 dB; the margin covers the Kaiser formulas' approximation). */
const STOP_BAND_DB = 46;
// Kaiser's design formulas (Oppenheim & Schafer): the window shape for that attenuation, and the
// kernel half-length, in periods of the lower rate, that fits the transition band (about 21).
const KAISER_BETA = 0.5842 * (STOP_BAND_DB - 21) ** 0.4 + 0.07886 * (STOP_BAND_DB - 21);
const HALF_WIDTH = (STOP_BAND_DB - 8) / (2.285 * 2 * Math.PI * (STOP_EDGE - PASS_EDGE)) / 2;
/** Most phases tabulated; rates needing more use the nearest of these (see the header). */
const PHASES_MAX = 2048;

interface Kernel {
  /** Input-sample stride between consecutive outputs, as the rational M / L. */
  up: number;
  down: number;
  phases: number;
  /** Taps per phase; phase p's taps are coefficients[p * taps .. (p + 1) * taps). */
  taps: number;
  /** Taps to the left of (and including) the input sample at or before the output position. */
  left: number;
  coefficients: Float32Array;
}

const kernels = new Map<number, Kernel>();

export function resampleTo16k(samples: Float32Array, fromRate: number): Float32Array {
  if (fromRate === TARGET_RATE) return samples;
  if (!Number.isInteger(fromRate) || fromRate <= 0) throw new RangeError(`resampleTo16k: fromRate must be a positive integer, got ${fromRate}`);
  const kernel = kernelFor(fromRate);
  const outLength = Math.round((samples.length * TARGET_RATE) / fromRate);
  const out = new Float32Array(outLength);
  if (samples.length === 0) return out;

  const { up, down, phases, taps, left, coefficients } = kernel;
  // Silence on both sides, so the hot loop needs no bounds checks.
  const padded = new Float32Array(samples.length + 2 * taps + 2);
  padded.set(samples, taps);
  const exact = phases === up;
  for (let n = 0; n < outLength; n++) {
    const position = n * down; // in units of 1/up input samples; exact in doubles for any real input length
    let base = Math.floor(position / up);
    let phase = position - base * up;
    if (!exact) {
      phase = Math.round((phase * phases) / up);
      if (phase === phases) {
        phase = 0;
        base += 1;
      }
    }
    const first = base - left + 1 + taps;
    const offset = phase * taps;
    // Four accumulators: independent additions that the CPU can overlap (about 1.5x faster).
    let sum0 = 0;
    let sum1 = 0;
    let sum2 = 0;
    let sum3 = 0;
    for (let tap = 0; tap < taps; tap += 4) {
      sum0 += padded[first + tap]! * coefficients[offset + tap]!;
      sum1 += padded[first + tap + 1]! * coefficients[offset + tap + 1]!;
      sum2 += padded[first + tap + 2]! * coefficients[offset + tap + 2]!;
      sum3 += padded[first + tap + 3]! * coefficients[offset + tap + 3]!;
    }
    out[n] = sum0 + sum1 + sum2 + sum3;
  }
  return out;
}

function kernelFor(fromRate: number): Kernel {
  let kernel = kernels.get(fromRate);
  if (kernel === undefined) {
    kernel = buildKernel(fromRate);
    kernels.set(fromRate, kernel);
  }
  return kernel;
}

function buildKernel(fromRate: number): Kernel {
  const divisor = gcd(TARGET_RATE, fromRate);
  const up = TARGET_RATE / divisor;
  const down = fromRate / divisor;
  const phases = Math.min(up, PHASES_MAX);
  const lowerRate = Math.min(fromRate, TARGET_RATE);
  // Cut-off in cycles per input sample, at the middle of the transition band.
  const cutoff = (((PASS_EDGE + STOP_EDGE) / 2) * lowerRate) / fromRate;
  const halfWidth = (HALF_WIDTH * fromRate) / lowerRate; // in input samples
  // An even `left` makes the tap count a multiple of 4 for the unrolled loop; the extra taps fall
  // outside the window and are 0.
  const left = 2 * Math.ceil(halfWidth / 2);
  const taps = 2 * left;
  const coefficients = new Float32Array(phases * taps);
  const windowNorm = besselI0(KAISER_BETA);
  for (let phase = 0; phase < phases; phase++) {
    const fraction = phase / phases;
    let sum = 0;
    for (let tap = 0; tap < taps; tap++) {
      // Distance from the output position to input sample (base - left + 1 + tap).
      const distance = fraction + left - 1 - tap;
      const ratio = distance / halfWidth;
      const value = ratio <= -1 || ratio >= 1 ? 0 : 2 * cutoff * sinc(2 * cutoff * distance) * (besselI0(KAISER_BETA * Math.sqrt(1 - ratio * ratio)) / windowNorm);
      coefficients[phase * taps + tap] = value;
      sum += value;
    }
    for (let tap = 0; tap < taps; tap++) coefficients[phase * taps + tap]! /= sum;
  }
  return { up, down, phases, taps, left, coefficients };
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const angle = Math.PI * x;
  return Math.sin(angle) / angle;
}

/** The zeroth-order modified Bessel function of the first kind, by its power series (converges fast for the betas used). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const quarterSquare = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= quarterSquare / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
