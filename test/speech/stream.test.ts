/**
 * The live speech stream (services/tasks/speech/stream.ts).
 *
 * The timing state machine is driven by scripted voice-activity probabilities (a deterministic
 * stand-in for Silero, per 32-ms chunk) and a recogniser whose answers the test releases one by one
 * (a fake backend that reports which stream samples it was given): this is the only way to pin
 * "one in flight", "newest wins" and "late partials dropped" exactly. The last block runs the real
 * thing end to end: Silero VAD and the trained recogniser through the runtime, on a real voice.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../services/core/config.ts';
import type { ModelRepository, ModelRuntime, SpeechTasks, TranscribeResult, UtteranceResult } from '../../services/core/contracts.ts';
import { EdgeError } from '../../services/core/errors.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { createSpeechStream, type SpeechStreamOptions, type StreamVoiceActivity } from '../../services/tasks/speech/stream.ts';
import { VAD_CHUNK, VoiceActivity } from '../../services/tasks/speech/vad.ts';
import { bindVad } from '../../services/tasks/speech/vad-model.ts';
import { goforwardPcm, joinAudio } from '../support/real-speech.ts';

/** Sample i of the stream carries i / 2^20 (exact in float32): a recognition tells which samples it got. */
const SCALE = 2 ** 20;
const chunkMs = 32;

const OPTIONS: SpeechStreamOptions = {
  vadThreshold: 0.5,
  segmentPadMs: 64, // 2 chunks
  partialIntervalMs: 160, // 5 chunks
  endSilenceMs: 320, // 10 chunks
  maxUtteranceSeconds: 1, // 16000 samples: forced at 32 chunks (16384)
};

/** Voice activity from a script: chunk c's probability is script(c). Keeps a partial chunk as VoiceActivity does. */
function scriptedVad(script: (chunk: number) => number, gate?: () => Promise<void>): StreamVoiceActivity {
  let seen = 0;
  let chunk = 0;
  return {
    async push(samples) {
      if (gate) await gate();
      seen += samples.length;
      const out: number[] = [];
      while ((chunk + 1) * VAD_CHUNK <= seen) out.push(script(chunk++));
      return Float32Array.from(out);
    },
  };
}

interface Call {
  /** Stream sample of the first sample given, and how many. */
  first: number;
  length: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** A recogniser that answers when told: one word spanning the samples it got, text "<first>+<length>". */
function heldRecogniser() {
  const calls: Call[] = [];
  const recognise = (samples: Float32Array): Promise<TranscribeResult> =>
    new Promise((resolve, reject) => {
      const first = Math.round(samples[0]! * SCALE);
      const durationMs = samples.length / 16;
      calls.push({
        first,
        length: samples.length,
        resolve: () =>
          resolve({
            text: `${first}+${samples.length}`,
            words: [{ word: 'w', start_ms: 0, end_ms: durationMs, confidence: 1 }],
            duration_ms: durationMs,
            model: 'held',
            version: '1',
            timings: { decode_ms: 0, queue_ms: 0, infer_ms: 0, total_ms: 0 },
          }),
        reject,
      });
    });
  return { calls, recognise };
}

function listener() {
  const results: UtteranceResult[] = [];
  const errors: unknown[] = [];
  return { results, errors, result: (r: UtteranceResult) => results.push(r), error: (e: unknown) => errors.push(e) };
}

/** Stream samples [from, to), each carrying its own index. */
function samples(from: number, to: number): Float32Array {
  const out = new Float32Array(to - from);
  for (let index = 0; index < out.length; index += 1) out[index] = (from + index) / SCALE;
  return out;
}

/** Pushes stream samples [from, to) in uneven pieces, letting voice activity run between them as a live sender would. */
async function pushRange(stream: { push(s: Float32Array): void }, from: number, to: number): Promise<void> {
  const sizes = [1000, 7, 333, 2048, 100];
  let at = from;
  for (let step = 0; at < to; step += 1) {
    const end = Math.min(to, at + sizes[step % sizes.length]!);
    stream.push(samples(at, end));
    at = end;
    await new Promise(setImmediate);
  }
}

/** Lets the voice-activity loop and recognitions run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

/** Speech on chunks [from, to). */
const speechOn = (from: number, to: number) => (chunk: number) => (chunk >= from && chunk < to ? 0.9 : 0.02);

describe('speech stream timing (scripted voice activity, held recogniser)', () => {
  it('starts at the first speech chunk with segmentPadMs of pre-roll; endSilenceMs of silence ends it with ONE final up to the last speech + pad, on the stream clock', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    // No partials here: the interval is longer than the utterance.
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(speechOn(10, 20)), recognise, options: { ...OPTIONS, partialIntervalMs: 5000 } });
    await pushRange(stream, 0, 29 * VAD_CHUNK);
    await settle();
    expect(calls).toHaveLength(0); // 9 silent chunks after the speech: not yet
    await pushRange(stream, 29 * VAD_CHUNK, 40 * VAD_CHUNK);
    await settle();
    expect(calls).toHaveLength(1);
    // Pre-roll: chunks 8 and 9; speech 10..19; pad after: chunks 20 and 21.
    expect(calls[0]).toMatchObject({ first: 8 * VAD_CHUNK, length: 14 * VAD_CHUNK });
    calls[0]!.resolve();
    await settle();
    expect(heard.results).toHaveLength(1);
    const final = heard.results[0]!;
    expect(final).toMatchObject({ utterance: 0, final: true, text: `${8 * VAD_CHUNK}+${14 * VAD_CHUNK}` });
    expect(final.words[0]).toMatchObject({ start_ms: 8 * chunkMs, end_ms: 22 * chunkMs });
    expect(heard.errors).toEqual([]);
    await stream.end();
    expect(heard.results).toHaveLength(1);
  });

  it('counts utterances 0, 1, 2 and puts each one\'s words on the stream clock', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const script = (chunk: number) => ((chunk >= 5 && chunk < 10) || (chunk >= 30 && chunk < 33) || (chunk >= 60 && chunk < 70) ? 0.8 : 0);
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(script), recognise, options: { ...OPTIONS, partialIntervalMs: 5000 } });
    await pushRange(stream, 0, 100 * VAD_CHUNK);
    for (let round = 0; round < 3; round += 1) {
      await settle();
      calls[round]?.resolve();
    }
    await stream.end();
    expect(heard.results.map((r) => [r.utterance, r.final, r.words[0]!.start_ms])).toEqual([
      [0, true, 3 * chunkMs],
      [1, true, 28 * chunkMs],
      [2, true, 58 * chunkMs],
    ]);
  });

  it('partials: one recognition in flight, audio arriving meanwhile goes to the NEXT partial (newest wins, never queued)', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(speechOn(4, 1000)), recognise, options: OPTIONS });
    await pushRange(stream, 0, 9 * VAD_CHUNK); // speech chunks 4..8 = 5 chunks = one interval
    await settle();
    expect(calls.map((c) => [c.first, c.length])).toEqual([[2 * VAD_CHUNK, 7 * VAD_CHUNK]]);
    await pushRange(stream, 9 * VAD_CHUNK, 25 * VAD_CHUNK); // three more intervals while the first runs
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.resolve();
    await settle();
    expect(heard.results.map((r) => [r.final, r.text])).toEqual([[false, `${2 * VAD_CHUNK}+${7 * VAD_CHUNK}`]]);
    // The next partial covers everything so far, at once.
    expect(calls.map((c) => [c.first, c.length])).toEqual([
      [2 * VAD_CHUNK, 7 * VAD_CHUNK],
      [2 * VAD_CHUNK, 23 * VAD_CHUNK],
    ]);
    calls[1]!.resolve();
    await settle();
    // Less than an interval of new audio since: no third partial.
    expect(calls).toHaveLength(2);
    expect(heard.results.map((r) => r.utterance)).toEqual([0, 0]);
    stream.close();
  });

  it('a partial that finishes after its utterance\'s final is dropped', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(speechOn(0, 6)), recognise, options: OPTIONS });
    await pushRange(stream, 0, 6 * VAD_CHUNK);
    await settle();
    expect(calls).toHaveLength(1); // the partial
    await pushRange(stream, 6 * VAD_CHUNK, 20 * VAD_CHUNK);
    await settle();
    expect(calls).toHaveLength(2); // the final (partial still running)
    calls[1]!.resolve();
    await settle();
    calls[0]!.resolve();
    await settle();
    expect(heard.results.map((r) => [r.utterance, r.final])).toEqual([[0, true]]);
    await stream.end();
  });

  it('maxUtteranceSeconds forces a final; speech going on starts the next utterance at the next chunk, without pre-roll', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(() => 0.9), recognise, options: { ...OPTIONS, partialIntervalMs: 10_000 } });
    await pushRange(stream, 0, 40 * VAD_CHUNK);
    await settle();
    // 32 chunks = 16384 samples >= 16000: forced.
    expect(calls.map((c) => [c.first, c.length])).toEqual([[0, 32 * VAD_CHUNK]]);
    calls[0]!.resolve();
    const ended = stream.end();
    await settle();
    expect(calls.map((c) => [c.first, c.length])[1]).toEqual([32 * VAD_CHUNK, 8 * VAD_CHUNK]);
    calls[1]!.resolve();
    await ended;
    expect(heard.results.map((r) => [r.utterance, r.final, r.words[0]!.start_ms])).toEqual([
      [0, true, 0],
      [1, true, 32 * chunkMs],
    ]);
  });

  it('end() finalises the running utterance with the samples under one chunk too, and resolves only after its final was reported', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(speechOn(3, 1000)), recognise, options: { ...OPTIONS, partialIntervalMs: 10_000 } });
    await pushRange(stream, 0, 12 * VAD_CHUNK + 100);
    let resolved = false;
    const ended = stream.end().then(() => {
      resolved = true;
    });
    await settle();
    expect(calls.map((c) => [c.first, c.length])).toEqual([[VAD_CHUNK, 11 * VAD_CHUNK + 100]]);
    expect(resolved).toBe(false);
    stream.push(samples(0, 5000)); // after end(): ignored
    calls[0]!.resolve();
    await ended;
    expect(heard.results.map((r) => [r.utterance, r.final])).toEqual([[0, true]]);
    expect(calls).toHaveLength(1);
  });

  it('results come in utterance order: the next utterance\'s partials wait for the final before them', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    // Utterance 0: chunks 0..2 (too short for a partial); utterance 1 from chunk 15 on.
    const script = (chunk: number) => (chunk < 3 || chunk >= 15 ? 0.9 : 0);
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(script), recognise, options: OPTIONS });
    await pushRange(stream, 0, 30 * VAD_CHUNK);
    await settle();
    // Only utterance 0's final, held: utterance 1 has 15 chunks of speech and no partial yet.
    expect(calls.map((c) => [c.first, c.length])).toEqual([[0, 5 * VAD_CHUNK]]);
    calls[0]!.resolve();
    await settle();
    expect(calls.map((c) => [c.first, c.length])[1]).toEqual([13 * VAD_CHUNK, 17 * VAD_CHUNK]);
    calls[1]!.resolve();
    await settle();
    expect(heard.results.map((r) => [r.utterance, r.final])).toEqual([
      [0, true],
      [1, false],
    ]);
    stream.close();
  });

  it('a failed recognition goes to listener.error and the stream goes on', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const script = (chunk: number) => ((chunk >= 2 && chunk < 5) || (chunk >= 20 && chunk < 25) ? 0.9 : 0);
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(script), recognise, options: { ...OPTIONS, partialIntervalMs: 10_000 } });
    await pushRange(stream, 0, 40 * VAD_CHUNK);
    await settle();
    calls[0]!.reject(new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', 'too slow'));
    await settle();
    calls[1]!.resolve();
    await stream.end();
    expect(heard.errors.map((e) => (e as EdgeError).code)).toEqual(['EDGE_ERR_DEADLINE_EXCEEDED']);
    expect(heard.results.map((r) => [r.utterance, r.final])).toEqual([[1, true]]);
  });

  it('close() drops everything: nothing is reported after it, and a pending end() resolves', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(speechOn(0, 1000)), recognise, options: OPTIONS });
    await pushRange(stream, 0, 10 * VAD_CHUNK);
    await settle();
    const ended = stream.end();
    await settle();
    stream.close();
    await ended;
    for (const call of calls) call.resolve();
    await settle();
    expect(heard.results).toEqual([]);
    stream.push(samples(0, 1000)); // after close(): ignored, no throw
  });

  it('BAD CALL - more than maxUtteranceSeconds of audio waiting for voice activity: push throws EDGE_ERR_QUEUE_FULL', async () => {
    const heard = listener();
    const stuck = () => new Promise<void>(() => undefined);
    const stream = createSpeechStream(heard, { vad: () => scriptedVad(() => 0, stuck), recognise: heldRecogniser().recognise, options: OPTIONS });
    // Voice activity takes the first chunk and never answers; after that, 1 s may wait.
    let accepted = 0;
    let thrown: unknown;
    try {
      for (;;) {
        stream.push(new Float32Array(VAD_CHUNK));
        accepted += VAD_CHUNK;
      }
    } catch (error) {
      thrown = error;
    }
    expect(accepted).toBe(VAD_CHUNK + Math.floor(16_000 / VAD_CHUNK) * VAD_CHUNK);
    expect(thrown).toBeInstanceOf(EdgeError);
    expect((thrown as EdgeError).code).toBe('EDGE_ERR_QUEUE_FULL');
    stream.close();
  });

  it('a failed voice-activity run is reported and counts as silence; the stream goes on', async () => {
    const heard = listener();
    const { calls, recognise } = heldRecogniser();
    let runs = 0;
    const inner = scriptedVad(speechOn(20, 25));
    const flaky: StreamVoiceActivity = {
      push(samples) {
        runs += 1;
        if (runs === 1) return Promise.reject(new EdgeError('EDGE_ERR_WORKER_CRASHED', 'worker died'));
        return inner.push(samples);
      },
    };
    const stream = createSpeechStream(heard, { vad: () => flaky, recognise, options: { ...OPTIONS, partialIntervalMs: 10_000 } });
    await pushRange(stream, 0, 8 * VAD_CHUNK); // the first call (8 chunks) fails
    await settle();
    await pushRange(stream, 8 * VAD_CHUNK, 48 * VAD_CHUNK);
    await settle();
    calls[0]?.resolve();
    await stream.end();
    expect(heard.errors.map((e) => (e as EdgeError).code)).toEqual(['EDGE_ERR_WORKER_CRASHED']);
    expect(heard.results).toHaveLength(1);
  });
});

describe('speech stream end to end (Silero VAD and the trained recogniser through the runtime, a real voice)', () => {
  let config: Readonly<Config>;
  let runtime: ModelRuntime;
  let repository: ModelRepository;
  let tasks: SpeechTasks;
  let voice: Float32Array;

  beforeAll(async () => {
    const raw = goforwardPcm();
    voice = new Float32Array(raw.length / 2);
    for (let index = 0; index < voice.length; index += 1) voice[index] = raw.readInt16LE(index * 2) / 32_768;
    config = loadConfig({ log: { level: 'silent' }, runtime: { workers: 1, intraOpThreads: 1 }, models: { load: ['melspec', 'speech_embedding', 'silero_vad', 'asr'] } });
    runtime = createRuntime(config);
    repository = await createRepository({ config, runtime });
    const missing = config.models.load.filter((name) => !repository.isReady(name));
    if (missing.length > 0) throw new Error(`models not ready (is models/repository/asr trained?): ${missing.join(', ')}`);
    tasks = createSpeechTasks({ repository, config });
  });
  afterAll(async () => {
    await repository?.close({ force: true });
    await runtime?.close({ force: true });
  });

  /** [silence, voice, silence, ...] as one signal; numbers are seconds of silence. */
  function signal(parts: Array<number | Float32Array>): Float32Array {
    return joinAudio(parts.map((part) => (typeof part === 'number' ? new Float32Array(Math.round(part * 16_000)) : part)));
  }

  /** 100-ms pieces, about 5x faster than real time, as a live sender ahead of the node. */
  async function pushLive(stream: { push(s: Float32Array): void }, audio: Float32Array): Promise<void> {
    for (let at = 0; at < audio.length; at += 1600) {
      stream.push(audio.subarray(at, at + 1600));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('openStream: partials while the man speaks, then ONE final "go forward ten meters" timed on the stream clock', async () => {
    const heard = listener();
    const stream = tasks.openStream(heard);
    await pushLive(stream, signal([1, voice, 1.5]));
    await stream.end();
    expect(heard.errors).toEqual([]);
    const finals = heard.results.filter((r) => r.final);
    expect(finals.map((r) => [r.utterance, r.text])).toEqual([[0, 'go forward ten meters']]);
    const partials = heard.results.filter((r) => !r.final);
    expect(partials.length).toBeGreaterThan(0);
    expect(heard.results.at(-1)).toBe(finals[0]);
    // The voice starts after 1 s of silence: its words are on the stream's clock.
    const words = finals[0]!.words;
    expect(words[0]!.start_ms).toBeGreaterThan(700);
    expect(words.at(-1)!.end_ms).toBeLessThan(1000 + (voice.length / 16) + 400);
  });

  it('a real VoiceActivity cuts two utterances 2 s apart (utterance 0 and 1); the second\'s words come after the first\'s; silence only gives nothing', async () => {
    const heard = listener();
    const stream = createSpeechStream(heard, {
      vad: () => new VoiceActivity(bindVad(repository, 'silero_vad')),
      recognise: (samples) => tasks.transcribeSamples(samples),
      options: { vadThreshold: config.speech.vadThreshold, segmentPadMs: 300, partialIntervalMs: 10_000, endSilenceMs: 700, maxUtteranceSeconds: 20 },
    });
    await pushLive(stream, signal([0.5, voice, 2, voice, 3]));
    await stream.end();
    const finals = heard.results.filter((r) => r.final);
    expect(finals.map((r) => [r.utterance, r.text])).toEqual([
      [0, 'go forward ten meters'],
      [1, 'go forward ten meters'],
    ]);
    const second = 500 + (voice.length / 16) + 2000;
    expect(finals[1]!.words[0]!.start_ms).toBeGreaterThan(second - 300);

    const quiet = listener();
    const silent = tasks.openStream(quiet);
    await pushLive(silent, signal([3]));
    await silent.end();
    expect(quiet.results).toEqual([]);
  });
});
