/**
 * Voice activity with the real Silero VAD v5 model served by the real repository and runtime
 * (worker threads): a real voice (pocketsphinx's goforward.raw, "go forward ten meters") found where
 * its energy is, silence and faint noise found empty, two utterances split or merged by the gap
 * setting, streaming in odd push sizes equal to the whole-audio run; then speechSegments' rules on
 * hand-made probabilities, and the bad calls.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import type { ModelRepository } from '../../services/core/contracts.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { speechProbabilities, speechSegments, VAD_CHUNK, VoiceActivity, type RunVad, type SegmentOptions } from '../../services/tasks/speech/vad.ts';
import { assertVadModel, bindVad } from '../../services/tasks/speech/vad-model.ts';
import { codeOf, codeOfSync } from '../support/code-of.ts';
import { goforwardPcm, joinAudio } from '../support/real-speech.ts';
import { mulberry32 } from '../../services/client/camera/random.ts';

const RATE = 16_000;
const SEGMENTS: SegmentOptions = { threshold: 0.4, mergeGapMs: 800, padMs: 0, minSpeechMs: 250 };

/** 16-bit little-endian mono PCM -> float32 in [-1, 1). */
function pcm16ToFloat(bytes: Buffer): Float32Array {
  const samples = new Float32Array(bytes.length >> 1);
  for (let index = 0; index < samples.length; index += 1) samples[index] = bytes.readInt16LE(2 * index) / 32768;
  return samples;
}

const concat = (...parts: Float32Array[]): Float32Array => joinAudio(parts);

/** Energy of each 32-ms chunk in dB full scale (mean square). */
function energyDb(samples: Float32Array): number[] {
  const out: number[] = [];
  for (let start = 0; start < samples.length; start += VAD_CHUNK) {
    const end = Math.min(samples.length, start + VAD_CHUNK);
    let sum = 0;
    for (let index = start; index < end; index += 1) sum += samples[index]! ** 2;
    out.push(10 * Math.log10(sum / (end - start) + 1e-12));
  }
  return out;
}

/** Where the words are by energy: the first and last chunk within 18 dB of the loudest. */
function loudChunks(samples: Float32Array): { first: number; last: number } {
  const energy = energyDb(samples);
  const floor = Math.max(...energy) - 18;
  const loud = energy.flatMap((db, index) => (db >= floor ? [index] : []));
  return { first: loud[0]!, last: loud[loud.length - 1]! };
}

/** Gaussian noise of the given RMS from a seeded generator. */
function whiteNoise(length: number, rms: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => rms * random.gaussian());
}

const silence = (seconds: number): Float32Array => new Float32Array(Math.round(seconds * RATE));

let repository: ModelRepository;
let run: RunVad;
let speech: Float32Array;

beforeAll(async () => {
  // Warm-up off: the runtime's warm-up feeds zeros with variable dims as 1 (input [1, 1], sr 0),
  // which Silero refuses (its STFT pads by reflection), so with warm-up on the model stays
  // UNAVAILABLE. See the report: the runtime needs a way to warm such models up or skip them.
  const config = loadConfig({ runtime: { workers: 1, intraOpThreads: 1, warmup: false }, models: { load: ['silero_vad'] } });
  repository = await createRepository({ config, runtime: createRuntime(config), load: ['silero_vad'] });
  expect(repository.isReady('silero_vad')).toBe(true);
  run = bindVad(repository, 'silero_vad');
  speech = pcm16ToFloat(goforwardPcm());
});

afterAll(async () => {
  await repository?.close();
});

describe('Silero VAD through the runtime', () => {
  it('finds one segment over the words of "go forward ten meters", where its energy is', async () => {
    const probabilities = await speechProbabilities(speech, run);
    expect(probabilities.length).toBe(Math.ceil(speech.length / VAD_CHUNK));
    const segments = speechSegments(probabilities, speech.length, SEGMENTS);
    expect(segments.length).toBe(1);
    const words = loudChunks(speech);
    const [segment] = segments;
    // Starts within two chunks of the first loud chunk, and ends after the last one (within 0.3 s).
    expect(Math.abs(segment!.start - words.first * VAD_CHUNK)).toBeLessThanOrEqual(2 * VAD_CHUNK);
    expect(segment!.end).toBeGreaterThanOrEqual((words.last + 1) * VAD_CHUNK);
    expect(segment!.end).toBeLessThanOrEqual((words.last + 1) * VAD_CHUNK + 0.3 * RATE);
  });

  it('finds nothing in 0.2 s of leading zeros, and pads the segment within the audio', async () => {
    const lead = silence(0.2);
    const audio = concat(lead, speech);
    const probabilities = await speechProbabilities(audio, run);
    const leadChunks = Math.floor(lead.length / VAD_CHUNK);
    expect(Math.max(...probabilities.subarray(0, leadChunks))).toBeLessThan(SEGMENTS.threshold - 0.15);
    const segments = speechSegments(probabilities, audio.length, SEGMENTS);
    expect(segments.length).toBe(1);
    expect(segments[0]!.start).toBeGreaterThanOrEqual(lead.length);
    // 300 ms of padding on both sides stays within [0, length].
    const padded = speechSegments(probabilities, audio.length, { ...SEGMENTS, padMs: 300 });
    expect(padded).toEqual([{ start: Math.max(0, segments[0]!.start - 4800), end: Math.min(audio.length, segments[0]!.end + 4800) }]);
  });

  it('finds nothing in 2 s of zeros', async () => {
    const probabilities = await speechProbabilities(silence(2), run);
    expect(probabilities.length).toBe(Math.ceil((2 * RATE) / VAD_CHUNK));
    expect(speechSegments(probabilities, 2 * RATE, SEGMENTS)).toEqual([]);
  });

  it('finds nothing in white noise at -40 dBFS', async () => {
    const noise = whiteNoise(2 * RATE, 0.01, 20261129);
    const probabilities = await speechProbabilities(noise, run);
    expect(speechSegments(probabilities, noise.length, SEGMENTS)).toEqual([]);
    expect(speechSegments(probabilities, noise.length, { ...SEGMENTS, minSpeechMs: 0 })).toEqual([]);
  });

  it('splits the words said twice with 2 s of silence between at mergeGapMs 800, joins them at 3000', async () => {
    // The words only (the recording has ~1 s of room noise around them), so the gap is the 2 s.
    const words = loudChunks(speech);
    const said = speech.subarray((words.first - 1) * VAD_CHUNK, (words.last + 2) * VAD_CHUNK);
    const audio = concat(said, silence(2), said);
    const probabilities = await speechProbabilities(audio, run);
    const apart = speechSegments(probabilities, audio.length, { ...SEGMENTS, mergeGapMs: 800 });
    expect(apart.length).toBe(2);
    expect(apart[0]!.end).toBeLessThanOrEqual(said.length + 0.3 * RATE);
    expect(apart[1]!.start).toBeGreaterThanOrEqual(said.length + 2 * RATE - VAD_CHUNK);
    const together = speechSegments(probabilities, audio.length, { ...SEGMENTS, mergeGapMs: 3000 });
    expect(together).toEqual([{ start: apart[0]!.start, end: apart[1]!.end }]);
  });

  it('streams in odd push sizes (100, 1000, 7 samples; pushes not awaited) to the whole-audio probabilities', async () => {
    const audio = concat(silence(0.2), speech);
    const whole = await speechProbabilities(audio, run);
    const activity = new VoiceActivity(run);
    const sizes = [100, 1000, 7];
    const pushes: Array<Promise<Float32Array>> = [];
    for (let at = 0, turn = 0; at < audio.length; turn += 1) {
      const size = Math.min(sizes[turn % sizes.length]!, audio.length - at);
      pushes.push(activity.push(audio.subarray(at, at + size)));
      at += size;
    }
    // The last partial chunk completes with zeros, as the whole-audio call pads it.
    const rest = (VAD_CHUNK - (audio.length % VAD_CHUNK)) % VAD_CHUNK;
    pushes.push(activity.push(new Float32Array(rest)));
    const streamed = concat(...(await Promise.all(pushes)));
    expect(streamed.length).toBe(whole.length);
    let worst = 0;
    for (let index = 0; index < whole.length; index += 1) worst = Math.max(worst, Math.abs(streamed[index]! - whole[index]!));
    expect(worst).toBeLessThanOrEqual(1e-5);

    // reset() starts a new stream: the same audio again gives the same probabilities.
    activity.reset();
    const again = await activity.push(audio.subarray(0, 20 * VAD_CHUNK));
    expect(Array.from(again)).toEqual(Array.from(whole.subarray(0, 20)));
  });

  it('returns a probability only when a push completes a chunk', async () => {
    const activity = new VoiceActivity(run);
    expect((await activity.push(speech.subarray(0, VAD_CHUNK - 1))).length).toBe(0);
    expect((await activity.push(speech.subarray(VAD_CHUNK - 1, VAD_CHUNK))).length).toBe(1);
    expect((await activity.push(new Float32Array(0))).length).toBe(0);
    expect((await activity.push(speech.subarray(VAD_CHUNK, 4 * VAD_CHUNK + 3))).length).toBe(3);
  });

  it('reads NaN and infinite samples as silence, so the stream state is never poisoned', async () => {
    const clean = concat(silence(0.2), speech);
    const dirty = clean.slice();
    for (const index of [5, 100, 1000, 3000]) dirty[index] = [Number.NaN, Infinity, -Infinity, Number.NaN][index % 4]!;
    const expected = await speechProbabilities(clean, run);
    const got = await speechProbabilities(dirty, run);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(Array.from(got)).toEqual(Array.from(expected));
  });

  it('measures the time per 32-ms chunk through the runtime (real-time factor of VAD alone)', async () => {
    await speechProbabilities(speech.subarray(0, 8 * VAD_CHUNK), run);
    const started = performance.now();
    const rounds = 3;
    for (let round = 0; round < rounds; round += 1) await speechProbabilities(speech, run);
    const chunks = rounds * Math.ceil(speech.length / VAD_CHUNK);
    const msPerChunk = (performance.now() - started) / chunks;
    console.log(`silero_vad: ${msPerChunk.toFixed(3)} ms per 32-ms chunk through the runtime, real-time factor ${(msPerChunk / 32).toFixed(4)} (${chunks} chunks)`);
    // Real time with room to spare even on a loaded 2-core machine.
    expect(msPerChunk).toBeLessThan(16);
  });

  it('accepts the Silero signature and refuses another (EDGE_ERR_MODEL_UNSUITABLE)', () => {
    const { signature } = repository.get('silero_vad');
    expect(codeOfSync(() => assertVadModel('silero_vad', signature))).toBe('RETURNED');
    const floatRate = { ...signature, inputs: signature.inputs.map((spec) => (spec.name === 'sr' ? { ...spec, type: 'float32' as const } : spec)) };
    expect(codeOfSync(() => assertVadModel('silero_vad', floatRate))).toBe('EDGE_ERR_MODEL_UNSUITABLE');
    const noState = { ...signature, inputs: signature.inputs.filter((spec) => spec.name !== 'state') };
    expect(codeOfSync(() => assertVadModel('silero_vad', noState))).toBe('EDGE_ERR_MODEL_UNSUITABLE');
  });

  it('BAD CALL - a model that is not loaded, or a chunk of the wrong size, fails with a code', async () => {
    const state = new Float32Array(256);
    expect(await codeOf(bindVad(repository, 'no_such_model')(new Float32Array(576), state))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
    expect(await codeOf(bindVad(repository, 'emotion')(new Float32Array(576), state))).toBe('EDGE_ERR_MODEL_NOT_READY');
    expect(await codeOf(run(new Float32Array(100), state))).toBe('EDGE_ERR_V2_DATA_MISMATCH');
  });

  it('BAD CALL - a failed run fails its push; the stream goes on with the next one', async () => {
    let calls = 0;
    const flaky: RunVad = async (input, state) => {
      calls += 1;
      if (calls === 2) return run(new Float32Array(3), state); // a real runtime failure
      return run(input, state);
    };
    const activity = new VoiceActivity(flaky);
    const first = activity.push(speech.subarray(0, VAD_CHUNK));
    const second = codeOf(activity.push(speech.subarray(VAD_CHUNK, 2 * VAD_CHUNK)));
    const third = activity.push(speech.subarray(2 * VAD_CHUNK, 3 * VAD_CHUNK));
    expect((await first).length).toBe(1);
    expect(await second).toBe('EDGE_ERR_V2_DATA_MISMATCH');
    expect((await third).length).toBe(1);
  });
});

describe('speechSegments', () => {
  const chunks = (...values: number[]): Float32Array => Float32Array.from(values);
  const plain: SegmentOptions = { threshold: 0.5, mergeGapMs: 0, padMs: 0, minSpeechMs: 0 };
  const C = VAD_CHUNK;

  it('switches on at the threshold and off below threshold - 0.15 (hysteresis)', () => {
    expect(speechSegments(chunks(0, 0.5, 0.4, 0.36, 0.3, 0), 6 * C, plain)).toEqual([{ start: C, end: 4 * C }]);
    expect(speechSegments(chunks(0.49, 0.49, 0.2), 3 * C, plain)).toEqual([]);
    // Still on at the end of the audio: the segment runs to the end.
    expect(speechSegments(chunks(0, 0.9, 0.9), 3 * C, plain)).toEqual([{ start: C, end: 3 * C }]);
    // A low threshold still ends (off level floored at 0.01).
    expect(speechSegments(chunks(0.1, 0.005, 0.1), 3 * C, { ...plain, threshold: 0.1 })).toEqual([
      { start: 0, end: C },
      { start: 2 * C, end: 3 * C },
    ]);
    // NaN counts as 0.
    expect(speechSegments(chunks(0.9, Number.NaN, 0.9), 3 * C, plain)).toEqual([
      { start: 0, end: C },
      { start: 2 * C, end: 3 * C },
    ]);
  });

  it('merges gaps shorter than mergeGapMs', () => {
    const probabilities = chunks(1, 0, 0, 1); // a gap of 2 chunks = 64 ms
    expect(speechSegments(probabilities, 4 * C, { ...plain, mergeGapMs: 64 })).toEqual([
      { start: 0, end: C },
      { start: 3 * C, end: 4 * C },
    ]);
    expect(speechSegments(probabilities, 4 * C, { ...plain, mergeGapMs: 65 })).toEqual([{ start: 0, end: 4 * C }]);
  });

  it('drops segments shorter than minSpeechMs, after merging', () => {
    const three = chunks(0, 1, 1, 1, 0); // 96 ms
    expect(speechSegments(three, 5 * C, { ...plain, minSpeechMs: 96 })).toEqual([{ start: C, end: 4 * C }]);
    expect(speechSegments(three, 5 * C, { ...plain, minSpeechMs: 97 })).toEqual([]);
    const twoBlips = chunks(1, 0, 1); // 32 ms each, 32 ms apart: 96 ms together
    expect(speechSegments(twoBlips, 3 * C, { ...plain, minSpeechMs: 64 })).toEqual([]);
    expect(speechSegments(twoBlips, 3 * C, { ...plain, minSpeechMs: 64, mergeGapMs: 40 })).toEqual([{ start: 0, end: 3 * C }]);
  });

  it('pads both sides, clamps to [0, totalSamples], joins what the padding makes touch', () => {
    expect(speechSegments(chunks(0, 0, 1, 0, 0), 5 * C, { ...plain, padMs: 10 })).toEqual([{ start: 2 * C - 160, end: 3 * C + 160 }]);
    expect(speechSegments(chunks(1, 0), 2 * C, { ...plain, padMs: 100 })).toEqual([{ start: 0, end: 2 * C }]);
    // The last chunk was zero-padded: the audio ends at 1300 samples, and so does the segment.
    expect(speechSegments(chunks(0, 1, 1), 1300, plain)).toEqual([{ start: C, end: 1300 }]);
    expect(speechSegments(chunks(0, 1, 1), 1300, { ...plain, padMs: 300 })).toEqual([{ start: 0, end: 1300 }]);
    // 20 ms of padding each side (320 samples) bridges a 1-chunk (512-sample) gap.
    expect(speechSegments(chunks(1, 0, 1), 3 * C, { ...plain, padMs: 20 })).toEqual([{ start: 0, end: 3 * C }]);
    // Probabilities past the audio's end (a caller's mismatch) make no segment of padding alone.
    expect(speechSegments(chunks(0, 0, 1), 2 * C, { ...plain, padMs: 10 })).toEqual([]);
    expect(speechSegments(new Float32Array(0), 0, { ...plain, padMs: 10 })).toEqual([]);
  });

  it('BAD CALL - out-of-range options fail with EDGE_ERR_QUERY_INVALID', () => {
    const probabilities = chunks(1);
    for (const options of [
      { ...plain, threshold: 0 },
      { ...plain, threshold: 1.5 },
      { ...plain, threshold: Number.NaN },
      { ...plain, mergeGapMs: -1 },
      { ...plain, padMs: Infinity },
      { ...plain, minSpeechMs: Number.NaN },
    ]) {
      expect(codeOfSync(() => speechSegments(probabilities, C, options))).toBe('EDGE_ERR_QUERY_INVALID');
    }
    expect(codeOfSync(() => speechSegments(probabilities, -1, plain))).toBe('EDGE_ERR_QUERY_INVALID');
    expect(codeOfSync(() => speechSegments(probabilities, 1.5, plain))).toBe('EDGE_ERR_QUERY_INVALID');
  });
});
