/**
 * Voice activity with Silero VAD v5 (models/repository/silero_vad): 16 kHz mono audio -> the
 * probability of speech in each 32-ms chunk -> speech segments. Trims silence before recognition,
 * splits long audio into utterances, and tells a live stream when an utterance starts and ends.
 *
 * The model is recurrent and sees each chunk with the 64 samples before it (its STFT window; without
 * them it outputs ~0), so chunks of one audio run strictly in order, one at a time, each with the
 * state the previous run returned. How the model is run is not this file's business: it gets a
 * RunVad (vad-model.ts binds one to the repository; tests may pass any function).
 *
 * Choices:
 * - Chunk i's context is samples [512i - 64, 512i) of the audio (zeros before the start), whether
 *   the audio arrives whole (speechProbabilities) or in pieces (VoiceActivity.push): both give the
 *   same inputs, hence the same probabilities.
 * - Samples are clamped to [-1, 1] and NaN or +-Infinity become 0 on the way in (as wav.ts does):
 *   one bad sample would otherwise turn the recurrent state into NaN for the rest of the stream.
 * - push() cuts complete chunks at once (synchronously), so it never holds more than one partial
 *   chunk of leftover samples, whatever the caller's push sizes; the runs are chained so that
 *   overlapping pushes keep their order. A failed run (timeout, shutdown) fails its push; the
 *   stream goes on from the last state that was computed.
 * - speechSegments merges close segments BEFORE dropping short ones: a short word next to others
 *   ("go", "ten") is kept inside their utterance, while a lone click is still dropped.
 * - The hysteresis' off level is max(threshold - 0.15, 0.01), as upstream's get_speech_timestamps,
 *   so a low threshold cannot make a segment that never ends.
 */
import { EdgeError } from '../../core/errors.ts';

export const VAD_SAMPLE_RATE = 16_000;
/** Samples of one chunk at 16 kHz = 32 ms. */
export const VAD_CHUNK = 512;
/** Samples before a chunk that the model sees with it. */
export const VAD_CONTEXT = 64;
/** Floats of the recurrent state [2, 1, 128]. */
export const VAD_STATE_SIZE = 256;
const INPUT_SIZE = VAD_CONTEXT + VAD_CHUNK;
/** The hysteresis: speech ends below threshold - OFF_MARGIN (and never at a level under OFF_FLOOR). */
const OFF_MARGIN = 0.15;
const OFF_FLOOR = 0.01;
const SAMPLES_PER_MS = VAD_SAMPLE_RATE / 1000;

/** One model run: input = 64 samples of context + 512 new ones (576), state = 256 floats. */
export type RunVad = (input: Float32Array, state: Float32Array) => Promise<{ probability: number; state: Float32Array }>;

/** A sample as the model may see it: within [-1, 1], never NaN. */
function clean(sample: number): number {
  if (!Number.isFinite(sample)) return 0;
  return sample > 1 ? 1 : sample < -1 ? -1 : sample;
}

/** Copies samples into `target` from `at`, cleaned. */
function copyClean(target: Float32Array, at: number, source: Float32Array, from: number, to: number): void {
  for (let index = from; index < to; index += 1) target[at + index - from] = clean(source[index]!);
}

/** Runs chunk inputs in order from the state `first`; `keep` hears each new state as soon as it exists. */
async function runChunks(inputs: readonly Float32Array[], first: Float32Array, run: RunVad, keep: (state: Float32Array) => void): Promise<Float32Array> {
  const probabilities = new Float32Array(inputs.length);
  let state = first;
  for (let index = 0; index < inputs.length; index += 1) {
    const result = await run(inputs[index]!, state);
    state = result.state;
    keep(state);
    probabilities[index] = result.probability;
  }
  return probabilities;
}

/** What one stream carries between chunks; reset() replaces it, so runs still in flight cannot touch the next one's. */
interface StreamState {
  /** The recurrent state after the last chunk that ran. */
  state: Float32Array;
  /** The chunk being filled: [64 of context | up to 512 new samples]. */
  pending: Float32Array;
  filled: number;
  /** Runs of earlier pushes, in order (never rejects: failures reach their own push). */
  tail: Promise<unknown>;
}

function freshStream(): StreamState {
  return { state: new Float32Array(VAD_STATE_SIZE), pending: new Float32Array(INPUT_SIZE), filled: 0, tail: Promise.resolve() };
}

/** Streaming: feed samples in any sizes; returns the probability of each 32-ms chunk completed by this push. */
export class VoiceActivity {
  readonly #run: RunVad;
  #stream: StreamState = freshStream();

  constructor(run: RunVad) {
    this.#run = run;
  }

  push(samples: Float32Array): Promise<Float32Array> {
    const stream = this.#stream;
    const inputs: Float32Array[] = [];
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(VAD_CHUNK - stream.filled, samples.length - offset);
      copyClean(stream.pending, VAD_CONTEXT + stream.filled, samples, offset, offset + take);
      stream.filled += take;
      offset += take;
      if (stream.filled === VAD_CHUNK) {
        const input = stream.pending;
        inputs.push(input);
        stream.pending = new Float32Array(INPUT_SIZE);
        stream.pending.set(input.subarray(INPUT_SIZE - VAD_CONTEXT), 0);
        stream.filled = 0;
      }
    }
    if (inputs.length === 0) return Promise.resolve(new Float32Array(0));
    const done = stream.tail.then(() =>
      runChunks(inputs, stream.state, this.#run, (state) => {
        stream.state = state;
      }),
    );
    stream.tail = done.catch(() => undefined);
    return done;
  }

  /** Forgets the audio so far: the next push starts a new stream (runs in flight finish for their own push). */
  reset(): void {
    this.#stream = freshStream();
  }
}

/** Whole audio at once -> one probability per 32-ms chunk (the last partial chunk zero-padded). */
export async function speechProbabilities(samples: Float32Array, run: RunVad): Promise<Float32Array> {
  const chunks = Math.ceil(samples.length / VAD_CHUNK);
  const probabilities = new Float32Array(chunks);
  let state: Float32Array = new Float32Array(VAD_STATE_SIZE);
  for (let chunk = 0; chunk < chunks; chunk += 1) {
    // Built one at a time: the model inputs never hold more than one chunk besides the audio itself.
    const input = new Float32Array(INPUT_SIZE);
    const start = chunk * VAD_CHUNK;
    const from = Math.max(0, start - VAD_CONTEXT);
    copyClean(input, VAD_CONTEXT - (start - from), samples, from, Math.min(samples.length, start + VAD_CHUNK));
    const result = await run(input, state);
    state = result.state;
    probabilities[chunk] = result.probability;
  }
  return probabilities;
}

export interface SegmentOptions {
  /** A chunk is speech from this probability up (0 < threshold <= 1). */
  threshold: number;
  /** Segments whose gap is shorter than this are merged into one. */
  mergeGapMs: number;
  /** Added on both sides of each segment, so onsets and tails are not cut. */
  padMs: number;
  /** Segments shorter than this (after merging, before padding) are dropped. */
  minSpeechMs: number;
}

function checkSegmentOptions(options: SegmentOptions, totalSamples: number): void {
  const fail = (what: string): never => {
    throw new EdgeError('EDGE_ERR_QUERY_INVALID', `voice activity: ${what}`);
  };
  if (!(Number.isFinite(options.threshold) && options.threshold > 0 && options.threshold <= 1)) fail(`threshold must be a number above 0 and at most 1, got ${options.threshold}`);
  for (const key of ['mergeGapMs', 'padMs', 'minSpeechMs'] as const) {
    if (!(Number.isFinite(options[key]) && options[key] >= 0)) fail(`${key} must be a number of milliseconds >= 0, got ${options[key]}`);
  }
  if (!(Number.isSafeInteger(totalSamples) && totalSamples >= 0)) fail(`totalSamples must be an integer >= 0, got ${totalSamples}`);
}

/**
 * Probabilities -> speech segments in samples [start, end), sorted and disjoint: hysteresis (on at
 * threshold, off below max(threshold - 0.15, 0.01)), gaps under mergeGapMs merged, segments shorter
 * than minSpeechMs dropped, padMs added on both sides (clamped to [0, totalSamples]; segments that
 * the padding makes touch are joined).
 */
export function speechSegments(probabilities: Float32Array, totalSamples: number, options: SegmentOptions): Array<{ start: number; end: number }> {
  checkSegmentOptions(options, totalSamples);
  const off = Math.max(options.threshold - OFF_MARGIN, OFF_FLOOR);
  const raw: Array<{ start: number; end: number }> = [];
  let start = -1;
  for (let chunk = 0; chunk < probabilities.length; chunk += 1) {
    const value = probabilities[chunk]!;
    const probability = Number.isFinite(value) ? value : 0;
    if (start < 0 && probability >= options.threshold) start = chunk;
    else if (start >= 0 && probability < off) {
      raw.push({ start: start * VAD_CHUNK, end: chunk * VAD_CHUNK });
      start = -1;
    }
  }
  if (start >= 0) raw.push({ start: start * VAD_CHUNK, end: probabilities.length * VAD_CHUNK });

  const mergeGap = options.mergeGapMs * SAMPLES_PER_MS;
  const merged: Array<{ start: number; end: number }> = [];
  for (const segment of raw) {
    const last = merged[merged.length - 1];
    if (last && segment.start - last.end < mergeGap) last.end = segment.end;
    else merged.push({ ...segment });
  }

  const minSpeech = options.minSpeechMs * SAMPLES_PER_MS;
  const pad = Math.round(options.padMs * SAMPLES_PER_MS);
  const result: Array<{ start: number; end: number }> = [];
  for (const segment of merged) {
    const from = Math.max(0, Math.min(segment.start, totalSamples) - pad);
    const to = Math.min(totalSamples, segment.end + pad);
    // Length within the audio: a chunk padded past the end counts only for the samples there are.
    const length = Math.min(segment.end, totalSamples) - Math.min(segment.start, totalSamples);
    if (length <= 0 || length < minSpeech) continue;
    const last = result[result.length - 1];
    if (last && from <= last.end) last.end = Math.max(last.end, to);
    else result.push({ start: from, end: to });
  }
  return result;
}
