/**
 * The live speech stream (WebSocket /v1/asr/stream): 16 kHz samples pushed in any sizes -> voice
 * activity per 32-ms chunk -> utterances -> partial results while one lasts, one final when it ends.
 * It decides WHEN to recognise; how to recognise (front end, acoustic model, decoder) and how to run
 * voice activity are given to it (deps), so the timing can be tested on its own.
 *
 * The timeline, in stream samples (the clock is the audio, never the wall):
 * - An utterance starts at the first chunk whose probability reaches `vadThreshold`, with up to
 *   `segmentPadMs` of the audio before it as pre-roll (so the first word's onset is not cut).
 * - While it lasts, a chunk is voiced unless its probability falls under the hysteresis' off level,
 *   max(threshold - 0.15, 0.01), as vad.ts's speechSegments; `endSilenceMs` of unvoiced chunks end
 *   it. The final covers it up to the last voiced chunk plus `segmentPadMs` (capped at the audio
 *   received). `maxUtteranceSeconds` of audio force a final; a new utterance may start at the next
 *   chunk, without pre-roll (the pre-roll would repeat the audio just finalised).
 * - Partials: when `partialIntervalMs` of new audio has come since the last partial started and
 *   the latest chunk is voiced, the whole utterance so far is recognised, one partial at a time: audio arriving during a
 *   recognition is covered by the next one, never queued (newest wins). A partial finishing after
 *   its utterance's final was reported is dropped. Partials of the next utterance wait until the
 *   finals before it were reported, so results always come in utterance order.
 * - Results carry `utterance` (0, 1, 2...) and `final`; word times are on the STREAM's clock
 *   (milliseconds since the first sample pushed), not the utterance's.
 * - A failed recognition goes to listener.error; the stream goes on. A failed voice-activity run
 *   is reported the same way and its chunks count as silence.
 *
 * Bounds (nothing grows with the stream's length or the client's speed):
 * - audio waiting for voice activity: at most `maxUtteranceSeconds` of it; push() beyond that
 *   throws EDGE_ERR_QUEUE_FULL (the sender is faster than the node: send in real time);
 * - the pre-roll: `segmentPadMs` + one chunk; the utterance: `maxUtteranceSeconds` + one chunk;
 * - recognitions: one partial in flight, and at most MAX_PENDING_FINALS finals (one running, the
 *   next waiting); past that, voice activity pauses until one is reported, so the backlog above
 *   fills and push() refuses.
 */
import type { SpeechStream, SpeechStreamListener, TranscribeResult, UtteranceResult } from '../../core/contracts.ts';
import { EdgeError } from '../../core/errors.ts';
import { VAD_CHUNK, VAD_SAMPLE_RATE } from './vad.ts';

/** What the stream needs of voice activity (vad.ts's VoiceActivity is one). */
export interface StreamVoiceActivity {
  /** Returns the probability of each 512-sample chunk this push completed. */
  push(samples: Float32Array): Promise<Float32Array>;
}

export interface SpeechStreamOptions {
  vadThreshold: number;
  segmentPadMs: number;
  partialIntervalMs: number;
  endSilenceMs: number;
  maxUtteranceSeconds: number;
}

export interface SpeechStreamDeps {
  /** A fresh voice-activity state for this stream. */
  vad: () => StreamVoiceActivity;
  /** Mono 16 kHz samples of one utterance -> words timed from its first sample. */
  recognise: (samples: Float32Array) => Promise<TranscribeResult>;
  options: SpeechStreamOptions;
}

/** Finals held at once (one recognising, one waiting); see the header. */
const MAX_PENDING_FINALS = 2;
/** Chunks handed to voice activity per call: fewer awaits, same probabilities. */
const CHUNKS_PER_VAD_CALL = 8;
const OFF_MARGIN = 0.15;
const OFF_FLOOR = 0.01;
const SAMPLES_PER_MS = VAD_SAMPLE_RATE / 1000;

export function createSpeechStream(listener: SpeechStreamListener, deps: SpeechStreamDeps): SpeechStream {
  return new LiveSpeechStream(listener, deps);
}

/** A Float32Array that grows by doubling up to a fixed most. */
class SampleBuffer {
  #data: Float32Array;
  #length = 0;
  readonly #max: number;

  constructor(initial: number, max: number) {
    this.#data = new Float32Array(Math.min(initial, max));
    this.#max = max;
  }

  get length(): number {
    return this.#length;
  }

  append(samples: Float32Array): void {
    const needed = this.#length + samples.length;
    if (needed > this.#max) throw new Error(`SampleBuffer: ${needed} samples exceed the bound ${this.#max}`);
    if (needed > this.#data.length) {
      const grown = new Float32Array(Math.min(this.#max, Math.max(needed, this.#data.length * 2)));
      grown.set(this.#data.subarray(0, this.#length));
      this.#data = grown;
    }
    this.#data.set(samples, this.#length);
    this.#length = needed;
  }

  /** A copy of [0, end): recognition may hold it while this buffer grows. */
  copy(end = this.#length): Float32Array {
    return this.#data.slice(0, Math.min(end, this.#length));
  }
}

interface Utterance {
  index: number;
  /** Stream sample of the utterance's first sample (pre-roll included). */
  startSample: number;
  audio: SampleBuffer;
  /** End of the last voiced chunk, in samples of `audio`. */
  voicedEnd: number;
  /** Unvoiced samples since then. */
  silence: number;
  /** Length of `audio` when the last partial started (or where the speech started). */
  partialMark: number;
  finalReported: boolean;
}

class LiveSpeechStream implements SpeechStream {
  readonly #listener: SpeechStreamListener;
  readonly #recognise: SpeechStreamDeps['recognise'];
  readonly #vad: StreamVoiceActivity;
  readonly #threshold: number;
  readonly #offLevel: number;
  readonly #padSamples: number;
  readonly #partialSamples: number;
  readonly #endSilenceSamples: number;
  readonly #maxUtteranceSamples: number;
  readonly #maxBacklogSamples: number;

  /** Pushed audio not yet through voice activity: pieces, and how far the first is consumed. */
  #backlog: Float32Array[] = [];
  #backlogHead = 0;
  #backlogSamples = 0;
  /** The loop feeding voice activity, while it runs. */
  #draining: Promise<void> | undefined;
  /** Chunks through voice activity so far: chunk c is stream samples [512c, 512c + 512). */
  #chunks = 0;
  /** The latest chunks outside an utterance, newest last: the next utterance's pre-roll. */
  #recent: Float32Array[] = [];
  #utterance: Utterance | undefined;
  #nextUtterance = 0;
  #partialInFlight = false;
  #finals: Promise<void>[] = [];
  #finalsTail: Promise<void> = Promise.resolve();
  #ended: Promise<void> | undefined;
  #ending = false;
  #closed = false;
  #onClose: (() => void) | undefined;

  constructor(listener: SpeechStreamListener, deps: SpeechStreamDeps) {
    const { vadThreshold, segmentPadMs, partialIntervalMs, endSilenceMs, maxUtteranceSeconds } = deps.options;
    this.#listener = listener;
    this.#recognise = deps.recognise;
    this.#vad = deps.vad();
    this.#threshold = vadThreshold;
    this.#offLevel = Math.max(vadThreshold - OFF_MARGIN, OFF_FLOOR);
    this.#padSamples = Math.round(segmentPadMs * SAMPLES_PER_MS);
    this.#partialSamples = Math.round(partialIntervalMs * SAMPLES_PER_MS);
    this.#endSilenceSamples = Math.round(endSilenceMs * SAMPLES_PER_MS);
    this.#maxUtteranceSamples = Math.max(VAD_CHUNK, Math.round(maxUtteranceSeconds * VAD_SAMPLE_RATE));
    this.#maxBacklogSamples = this.#maxUtteranceSamples;
  }

  push(samples: Float32Array): void {
    if (this.#closed || this.#ending || samples.length === 0) return;
    if (this.#backlogSamples + samples.length > this.#maxBacklogSamples) {
      throw new EdgeError('EDGE_ERR_QUEUE_FULL', `more than ${this.#maxBacklogSamples / VAD_SAMPLE_RATE} s of audio wait for voice activity: send audio in real time`, {
        details: { waitingSeconds: this.#backlogSamples / VAD_SAMPLE_RATE },
      });
    }
    // Copied: the caller may reuse its buffer.
    this.#backlog.push(samples.slice());
    this.#backlogSamples += samples.length;
    this.#pump();
  }

  end(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#ended ??= this.#finish();
    return this.#ended;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backlog = [];
    this.#backlogSamples = 0;
    this.#recent = [];
    this.#utterance = undefined;
    this.#onClose?.();
  }

  async #finish(): Promise<void> {
    this.#ending = true;
    const closed = new Promise<void>((resolve) => {
      this.#onClose = resolve;
    });
    const finished = (async () => {
      while (this.#draining !== undefined) await this.#draining;
      if (this.#closed) return;
      // Less than one chunk is left: too short for voice activity, but part of a running utterance.
      const rest = this.#take(this.#backlogSamples);
      const utterance = this.#utterance;
      if (utterance !== undefined) {
        utterance.audio.append(rest.subarray(0, Math.max(0, this.#maxUtteranceSamples + VAD_CHUNK - utterance.audio.length)));
        await this.#finalise(utterance, utterance.audio.length);
      }
      await this.#finalsTail;
    })();
    await Promise.race([finished, closed]);
  }

  /** Starts the voice-activity loop unless it runs (it picks up what push() adds meanwhile). */
  #pump(): void {
    if (this.#draining !== undefined || this.#closed || this.#backlogSamples < VAD_CHUNK) return;
    this.#draining = this.#drain()
      // Only a bug gets here (every expected failure is reported where it happens); never unhandled.
      .catch((error: unknown) => {
        if (!this.#closed) this.#listener.error(error);
      })
      .finally(() => {
        this.#draining = undefined;
        this.#pump();
      });
  }

  async #drain(): Promise<void> {
    while (!this.#closed && this.#backlogSamples >= VAD_CHUNK) {
      const count = Math.min(CHUNKS_PER_VAD_CALL, Math.floor(this.#backlogSamples / VAD_CHUNK));
      const audio = this.#take(count * VAD_CHUNK);
      let probabilities: Float32Array;
      try {
        probabilities = await this.#vad.push(audio);
        if (probabilities.length !== count) throw new EdgeError('EDGE_ERR_INTERNAL', `voice activity returned ${probabilities.length} probabilities for ${count} chunks`);
      } catch (error) {
        if (this.#closed) return;
        this.#listener.error(error);
        probabilities = new Float32Array(count);
      }
      for (let chunk = 0; chunk < count && !this.#closed; chunk += 1) {
        await this.#onChunk(audio.subarray(chunk * VAD_CHUNK, (chunk + 1) * VAD_CHUNK), probabilities[chunk]!);
      }
    }
  }

  /** Removes `count` samples from the front of the backlog. */
  #take(count: number): Float32Array {
    const out = new Float32Array(count);
    let filled = 0;
    while (filled < count) {
      const piece = this.#backlog[0]!;
      const take = Math.min(count - filled, piece.length - this.#backlogHead);
      out.set(piece.subarray(this.#backlogHead, this.#backlogHead + take), filled);
      filled += take;
      this.#backlogHead += take;
      if (this.#backlogHead === piece.length) {
        this.#backlog.shift();
        this.#backlogHead = 0;
      }
    }
    this.#backlogSamples -= count;
    return out;
  }

  async #onChunk(chunk: Float32Array, probability: number): Promise<void> {
    const chunkStart = this.#chunks * VAD_CHUNK;
    this.#chunks += 1;
    const utterance = this.#utterance;
    if (utterance === undefined) {
      if (probability >= this.#threshold) this.#start(chunk, chunkStart);
      else this.#remember(chunk);
      return;
    }
    utterance.audio.append(chunk);
    if (probability >= this.#offLevel) {
      utterance.voicedEnd = utterance.audio.length;
      utterance.silence = 0;
    } else {
      utterance.silence += chunk.length;
    }
    if (utterance.silence >= this.#endSilenceSamples) {
      await this.#finalise(utterance, utterance.voicedEnd + this.#padSamples);
    } else if (utterance.audio.length >= this.#maxUtteranceSamples) {
      // #recent stayed empty during the utterance: the next one starts without pre-roll.
      await this.#finalise(utterance, utterance.audio.length);
    } else {
      this.#maybePartial();
    }
  }

  #start(chunk: Float32Array, chunkStart: number): void {
    const preRoll = this.#preRoll();
    const audio = new SampleBuffer(preRoll.length + 16 * VAD_CHUNK, this.#maxUtteranceSamples + VAD_CHUNK);
    audio.append(preRoll);
    audio.append(chunk);
    this.#recent = [];
    this.#utterance = {
      index: this.#nextUtterance,
      startSample: chunkStart - preRoll.length,
      audio,
      voicedEnd: audio.length,
      silence: 0,
      partialMark: preRoll.length,
      finalReported: false,
    };
    this.#nextUtterance += 1;
    this.#maybePartial();
  }

  /** Keeps the chunks that may become pre-roll: `segmentPadMs` of them, no more. */
  #remember(chunk: Float32Array): void {
    if (this.#padSamples === 0) return;
    this.#recent.push(chunk);
    let held = this.#recent.length * VAD_CHUNK;
    while (held - VAD_CHUNK >= this.#padSamples) {
      this.#recent.shift();
      held -= VAD_CHUNK;
    }
  }

  #preRoll(): Float32Array {
    const held = this.#recent.length * VAD_CHUNK;
    const length = Math.min(held, this.#padSamples);
    const out = new Float32Array(length);
    let at = 0;
    let skip = held - length;
    for (const chunk of this.#recent) {
      const part = chunk.subarray(Math.min(skip, chunk.length));
      skip = Math.max(0, skip - chunk.length);
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  #maybePartial(): void {
    const utterance = this.#utterance;
    // In a pause nothing new is said: the partial waits for the next voiced chunk.
    if (this.#closed || utterance === undefined || utterance.silence > 0 || this.#partialInFlight || this.#finals.length > 0) return;
    if (utterance.audio.length - utterance.partialMark < this.#partialSamples) return;
    this.#partialInFlight = true;
    utterance.partialMark = utterance.audio.length;
    const samples = utterance.audio.copy();
    void this.#recognise(samples)
      .then(
        (result) => {
          if (!this.#closed && !utterance.finalReported) this.#listener.result(this.#onStreamClock(result, utterance, false));
        },
        (error: unknown) => {
          if (!this.#closed && !utterance.finalReported) this.#listener.error(error);
        },
      )
      .finally(() => {
        this.#partialInFlight = false;
        this.#maybePartial();
      });
  }

  /** Queues the utterance's final over audio [0, end); waits while MAX_PENDING_FINALS are held. */
  async #finalise(utterance: Utterance, end: number): Promise<void> {
    if (this.#utterance === utterance) this.#utterance = undefined;
    const samples = utterance.audio.copy(end);
    while (this.#finals.length >= MAX_PENDING_FINALS && !this.#closed) await this.#finals[0];
    if (this.#closed) return;
    const final = this.#finalsTail.then(async () => {
      try {
        const result = await this.#recognise(samples);
        if (this.#closed) return;
        utterance.finalReported = true;
        this.#listener.result(this.#onStreamClock(result, utterance, true));
      } catch (error) {
        utterance.finalReported = true;
        if (!this.#closed) this.#listener.error(error);
      }
    });
    // Settled only once it left the list, so whoever awaits it sees room.
    const held: Promise<void> = final.finally(() => {
      this.#finals.splice(this.#finals.indexOf(held), 1);
      // The next utterance's partials waited for this final.
      this.#maybePartial();
    });
    this.#finals.push(held);
    this.#finalsTail = held;
  }

  #onStreamClock(result: TranscribeResult, utterance: Utterance, final: boolean): UtteranceResult {
    const offsetMs = utterance.startSample / SAMPLES_PER_MS;
    return {
      ...result,
      words: result.words.map((word) => ({ ...word, start_ms: word.start_ms + offsetMs, end_ms: word.end_ms + offsetMs })),
      utterance: utterance.index,
      final,
    };
  }
}
