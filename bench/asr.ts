/**
 * npm run bench:asr - speech recognition speed and memory, side by side in one run:
 *   1. baseline: the models alone, in-process on the node's worker pool: the exact model runs one
 *      transcription of each clip makes (VAD chunks, melspec, speech_embedding, asr), recorded once
 *      and replayed with their precomputed inputs. The compute floor per second of audio;
 *   2. the transcribe task in-process (createSpeechTasks: WAV decode, resampling, VAD, front end,
 *      acoustic model, beam search), 1 and 2 clips in flight: real-time factor (processing time /
 *      audio time), clips/s, and the ratio to phase 1 (what the task adds around the models);
 *   3. a node in its own process (`mec serve`), POST /v1/asr over real HTTP at concurrency 1, 2, 4:
 *      requests/s, p50/p99 latency, seconds of audio recognised per second of wall time, node RSS;
 *   4. live streams over WebSocket to that node: N concurrent streams each sending the goforward
 *      voice then 1 s of silence, in real time (20 ms chunks, paced), repeated: the latency from
 *      the end of the speech (last voiced chunk sent) to the final result arriving, and partials
 *      per utterance. That latency holds speech.stream.endSilenceMs by design (the node waits for
 *      that much silence before it calls an utterance over), printed beside it.
 * Timings are medians of one run and ratios within it (absolute times drift on a shared machine);
 * nothing is asserted.
 *
 * Audio: the committed real recording models/asr/real-speech/goforward.wav (2.8 s) and a few
 * commands spoken by espeak-ng at start (`espeak-ng -w`).
 *
 * Options (env): BENCH_SECONDS per phase step (default 8).
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import WebSocket from 'ws';
import { loadConfig, PROJECT_ROOT } from '../services/core/config.ts';
import type { InferOptions, ModelRepository, Tensor } from '../services/core/contracts.ts';
import { createRuntime } from '../services/runtime/index.ts';
import { createRepository } from '../services/registry/index.ts';
import { createSpeechTasks } from '../services/tasks/speech/index.ts';
import { recogniserOf } from '../services/tasks/speech/recogniser.ts';
import { resampleTo16k } from '../services/tasks/speech/resample.ts';
import { speechProbabilities, VAD_CHUNK } from '../services/tasks/speech/vad.ts';
import { bindVad } from '../services/tasks/speech/vad-model.ts';
import { decodeWav } from '../services/tasks/speech/wav.ts';
import { closedLoop } from './lib/closed-loop.ts';
import { rssMb, startServer } from './lib/node-process.ts';
import { median, summarize } from './lib/stats.ts';
import { printTable } from './lib/table.ts';
import { startProgress } from '../services/cli/progress.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const MODELS = ['melspec', 'speech_embedding', 'silero_vad', 'asr'];
const config = loadConfig({ log: { level: 'warn' }, models: { load: MODELS } });
const SAMPLE_RATE = 16_000;
const WARMUP_MS = 1000;
const COMMANDS = ['set pressure to four point two bar', 'stop conveyor two', 'open valve three'];
/** Live streams: 20 ms of audio a message, then this much silence after each repetition of the voice. */
const CHUNK_MS = 20;
const SILENCE_MS = 1000;
/** Real-time factors are small (well under 0.1): four decimals, where the table would print two. */
const rtf = (value: number): string => value.toFixed(4);

/** The last index whose value passes (-1 if none); Array#findLastIndex is ES2023, the project targets ES2022. */
function lastIndexWhere(values: ArrayLike<number>, passes: (value: number) => boolean): number {
  for (let index = values.length - 1; index >= 0; index -= 1) if (passes(values[index]!)) return index;
  return -1;
}

interface Clip {
  name: string;
  wav: Uint8Array;
  /** Mono 16 kHz in [-1, 1], as the task decodes it. */
  samples: Float32Array;
  seconds: number;
}

interface RecordedRun {
  model: string;
  inputs: Record<string, Tensor>;
  options: InferOptions;
}

function clipOf(name: string, wav: Uint8Array): Clip {
  const decoded = decodeWav(wav, { maxSeconds: config.speech.maxAudioSeconds, maxChannels: config.speech.maxChannels });
  const samples = resampleTo16k(decoded.samples, decoded.sampleRate);
  return { name, wav, samples, seconds: samples.length / SAMPLE_RATE };
}

/** The committed real recording and the espeak-ng commands (made now, in a temporary folder). */
function loadClips(): Clip[] {
  const clips = [clipOf('goforward (real)', readFileSync(path.join(PROJECT_ROOT, 'models/asr/real-speech/goforward.wav')))];
  const folder = mkdtempSync(path.join(os.tmpdir(), 'bench-asr-'));
  try {
    COMMANDS.forEach((text, index) => {
      const file = path.join(folder, `command-${index}.wav`);
      execFileSync('espeak-ng', ['-w', file, text]);
      clips.push(clipOf(`"${text}" (espeak)`, readFileSync(file)));
    });
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  return clips;
}

/** A copy of a tensor: the runtime transfers (detaches) input buffers, so every replay needs fresh ones. */
function copyTensor(tensor: Tensor): Tensor {
  return { ...tensor, data: tensor.data.slice() } as Tensor;
}

/** The repository as the task sees it, noting every model run (inputs copied before they are sent). */
function recordingRepository(repository: ModelRepository, runs: RecordedRun[]): ModelRepository {
  return new Proxy(repository, {
    get(target, property, receiver) {
      if (property !== 'infer') {
        // The repository keeps private fields: its own methods must run with it as `this`, not the proxy.
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (model: string, version: string | undefined, inputs: Record<string, Tensor>, options: InferOptions = {}) => {
        runs.push({
          model,
          inputs: Object.fromEntries(Object.entries(inputs).map(([name, tensor]) => [name, copyTensor(tensor)])),
          options: options.outputs === undefined ? {} : { outputs: options.outputs },
        });
        return target.infer(model, version, inputs, options);
      };
    },
  });
}

/** Per-iteration real-time factors, kept only for iterations that started after the warm-up. */
class FactorLog {
  readonly measuredFrom = performance.now() + WARMUP_MS;
  readonly factors: number[] = [];
  audioSeconds = 0;

  add(started: number, processingMs: number, audioSeconds: number): void {
    if (started < this.measuredFrom) return;
    this.factors.push(processingMs / 1000 / audioSeconds);
    this.audioSeconds += audioSeconds;
  }
}

async function inProcess(clips: readonly Clip[]) {
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: MODELS });
  // Steps: one recorded transcription per clip, then 2 baseline and 2 task loops.
  const progress = startProgress({ label: 'bench:asr in-process', total: clips.length + 4, unit: 'steps' });
  try {
    // Record what one transcription of each clip runs, and show what it recognised.
    const recorded: RecordedRun[][] = [];
    for (const clip of clips) {
      progress.tick(0, `recording ${clip.name}`);
      const runs: RecordedRun[] = [];
      const result = await createSpeechTasks({ repository: recordingRepository(repository, runs), config }).transcribe(clip.wav);
      recorded.push(runs);
      progress.log(`  ${clip.name}, ${clip.seconds.toFixed(2)} s -> "${result.text}" (${runs.length} model runs)`, process.stdout);
      progress.tick();
    }

    const perModel = new Map<string, number[]>(MODELS.map((model) => [model, []]));
    const baseline = async (inFlight: number) => {
      const log = new FactorLog();
      const loop = await closedLoop(inFlight, SECONDS * 1000, async (iteration) => {
        const clip = iteration % clips.length;
        const started = performance.now();
        const spent = new Map<string, number>();
        for (const run of recorded[clip]!) {
          const inputs = Object.fromEntries(Object.entries(run.inputs).map(([name, tensor]) => [name, copyTensor(tensor)]));
          const runStarted = performance.now();
          await repository.infer(run.model, undefined, inputs, run.options);
          spent.set(run.model, (spent.get(run.model) ?? 0) + performance.now() - runStarted);
        }
        log.add(started, performance.now() - started, clips[clip]!.seconds);
        if (inFlight === 1 && started >= log.measuredFrom) {
          for (const [model, ms] of spent) perModel.get(model)!.push(ms / 1000 / clips[clip]!.seconds);
        }
      }, { warmupMs: WARMUP_MS });
      return { loop, log };
    };
    const tasks = createSpeechTasks({ repository, config });
    const task = async (inFlight: number) => {
      const log = new FactorLog();
      const loop = await closedLoop(inFlight, SECONDS * 1000, async (iteration) => {
        const clip = clips[iteration % clips.length]!;
        const started = performance.now();
        await tasks.transcribe(clip.wav);
        log.add(started, performance.now() - started, clip.seconds);
      }, { warmupMs: WARMUP_MS });
      return { loop, log };
    };
    // Where the node's stream will see the voice end: the last chunk voiced at the hysteresis' off level.
    const loaded = repository.get(config.speech.model);
    const probabilities = await speechProbabilities(clips[0]!.samples, bindVad(repository, recogniserOf(loaded.card, loaded.signature).frontEnd.vad));
    const offLevel = Math.max(config.speech.vadThreshold - 0.15, 0.01);
    const voiceEndSample = (lastIndexWhere(probabilities, (probability) => probability >= offLevel) + 1) * VAD_CHUNK;
    const runsPerClip = (model: string) => median(recorded.map((runs) => runs.filter((run) => run.model === model).length));
    const step = async <T>(note: string, run: () => Promise<T>): Promise<T> => {
      progress.tick(0, note);
      const result = await run();
      progress.tick();
      return result;
    };
    const baselines = [await step('models alone, 1 in flight', () => baseline(1)), await step('models alone, 2 in flight', () => baseline(2))];
    const taskRuns = [await step('transcribe task, 1 in flight', () => task(1)), await step('transcribe task, 2 in flight', () => task(2))];
    return { baselines, taskRuns, perModel, runsPerClip, voiceEndSample };
  } finally {
    progress.finish();
    await repository.close();
  }
}

async function postLoad(url: string, clips: readonly Clip[], concurrency: number, pid: number) {
  const pool = new Pool(url, { connections: concurrency });
  const log = new FactorLog();
  try {
    const loop = await closedLoop(concurrency, SECONDS * 1000, async (iteration) => {
      const clip = clips[iteration % clips.length]!;
      const started = performance.now();
      const response = await pool.request({ method: 'POST', path: '/v1/asr', headers: { 'content-type': 'audio/wav' }, body: clip.wav });
      const body = (await response.body.json()) as { text?: string; error?: { code: string } };
      if (response.statusCode !== 200) throw Object.assign(new Error(`HTTP ${response.statusCode}`), { code: body.error?.code ?? `HTTP_${response.statusCode}` });
      log.add(started, performance.now() - started, clip.seconds);
    }, { warmupMs: WARMUP_MS });
    return { loop, log, memory: rssMb(pid) };
  } finally {
    await pool.close();
  }
}

/**
 * 16-bit PCM of the voice in 20 ms chunks, and the last chunk that carries voice: the one holding
 * `voiceEndSample` (where the node's voice activity last scores the clip voiced), and the last one
 * within 30 dB of the loudest chunk's energy, for comparison.
 */
function streamAudio(clip: Clip, voiceEndSample: number): { chunks: Buffer[]; lastVoiced: number; lastLoud: number; silence: Buffer } {
  const perChunk = (SAMPLE_RATE * CHUNK_MS) / 1000;
  const chunks: Buffer[] = [];
  const energies: number[] = [];
  for (let at = 0; at < clip.samples.length; at += perChunk) {
    const part = clip.samples.subarray(at, Math.min(clip.samples.length, at + perChunk));
    const pcm = Buffer.alloc(part.length * 2);
    let energy = 0;
    part.forEach((sample, index) => {
      pcm.writeInt16LE(Math.round(Math.max(-1, Math.min(1, sample)) * 32_767), index * 2);
      energy += sample * sample;
    });
    chunks.push(pcm);
    energies.push(energy / part.length);
  }
  const loudest = Math.max(...energies);
  const lastLoud = lastIndexWhere(energies, (energy) => energy >= loudest / 1000);
  const lastVoiced = Math.min(chunks.length, Math.ceil(voiceEndSample / perChunk)) - 1;
  return { chunks, lastVoiced, lastLoud, silence: Buffer.alloc(perChunk * 2) };
}

interface StreamReport {
  latencies: number[];
  partials: number[];
  finals: number;
  repetitions: number;
  texts: string[];
  errors: string[];
}

/** One live stream: the voice then silence, `repetitions` times, paced in real time on an absolute schedule. */
async function oneStream(url: string, audio: ReturnType<typeof streamAudio>, repetitions: number): Promise<StreamReport> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/v1/asr/stream`);
  const speechEnds: number[] = [];
  const partials = new Map<number, number>();
  const report: StreamReport = { latencies: [], partials: [], finals: 0, repetitions, texts: [], errors: [] };
  const closed = new Promise<void>((resolve, reject) => {
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  socket.on('message', (data) => {
    const arrived = performance.now();
    const message = JSON.parse(data.toString()) as { type: string; utterance: number; text: string; code?: string };
    if (message.type === 'partial') partials.set(message.utterance, (partials.get(message.utterance) ?? 0) + 1);
    else if (message.type === 'error') report.errors.push(message.code ?? 'unknown');
    else if (message.type === 'final') {
      report.finals += 1;
      report.texts.push(message.text);
      // Utterance k is repetition k when each repetition is one utterance (finals = repetitions says so).
      const ended = speechEnds[message.utterance];
      if (ended !== undefined) report.latencies.push(arrived - ended);
      report.partials.push(partials.get(message.utterance) ?? 0);
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const silentChunks = SILENCE_MS / CHUNK_MS;
  const start = performance.now();
  let sent = 0;
  for (let repetition = 0; repetition < repetitions; repetition += 1) {
    for (let index = 0; index < audio.chunks.length + silentChunks; index += 1) {
      const due = start + sent * CHUNK_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      socket.send(index < audio.chunks.length ? audio.chunks[index]! : audio.silence);
      sent += 1;
      if (index === audio.lastVoiced) speechEnds[repetition] = performance.now();
    }
  }
  socket.send(JSON.stringify({ type: 'end' }));
  await closed;
  return report;
}

async function main(): Promise<void> {
  process.stdout.write(`bench:asr on ${os.cpus().length} cores, ${config.runtime.workers} workers x ${config.runtime.intraOpThreads} thread, ${SECONDS} s per step\n`);
  const clips = loadClips();
  const audioSeconds = clips.reduce((sum, clip) => sum + clip.seconds, 0);
  process.stdout.write(`clips (${audioSeconds.toFixed(2)} s of audio in all, taken in turn):\n`);
  const { baselines, taskRuns, perModel, runsPerClip, voiceEndSample } = await inProcess(clips);

  const floor = baselines.map(({ log }) => median(log.factors));
  const modelRows = MODELS.map((model) => [`  ${model}`, 1, runsPerClip(model), rtf(median(perModel.get(model)!)), '', '', '']);
  printTable('1. Baseline: the models alone (recorded runs of one transcription per clip, replayed in-process on the worker pool)', ['models', 'clips in flight', 'runs per clip (median)', 'RTF (median)', 'clips/s', 'audio s / s', 'p50 ms per clip'], [
    ...baselines.map(({ loop, log }) => ['all of one clip\'s runs', loop.concurrency, '', rtf(median(log.factors)), loop.throughput, log.audioSeconds / loop.seconds, loop.p50]),
    ['of which (1 in flight), RTF per model:', '', '', '', '', '', ''],
    ...modelRows,
  ]);
  printTable('2. The transcribe task in-process (WAV bytes -> words), against phase 1 at the same clips in flight', ['pipeline', 'clips in flight', 'RTF (median)', 'clips/s', 'audio s / s', 'p50 ms', 'p99 ms', 'errors', 'RTF vs models', 'clips/s vs models'], taskRuns.map(({ loop, log }, index) => [
    'transcribe task', loop.concurrency, rtf(median(log.factors)), loop.throughput, log.audioSeconds / loop.seconds, loop.p50, loop.p99, loop.errors,
    median(log.factors) / floor[index]!, loop.throughput / baselines[index]!.loop.throughput,
  ]));

  const server = await startServer(['--port', '0', '--models', MODELS.join(','), '--log-level', 'warn', '--workers', String(config.runtime.workers), '--intra-op-threads', String(config.runtime.intraOpThreads)]);
  const pid = server.child.pid!;
  try {
    const idle = rssMb(pid);
    const postRows: (string | number)[][] = [];
    const postProgress = startProgress({ label: 'bench:asr POST /v1/asr', total: 3, unit: 'loads' });
    for (const concurrency of [1, 2, 4]) {
      postProgress.tick(0, `concurrency ${concurrency}`);
      const { loop, log, memory } = await postLoad(server.url, clips, concurrency, pid).finally(() => postProgress.tick());
      postRows.push([concurrency, loop.throughput, loop.p50, loop.p99, rtf(median(log.factors)), log.audioSeconds / loop.seconds, loop.errors === 0 ? 0 : JSON.stringify(loop.errorCodes), loop.throughput / taskRuns[Math.min(concurrency, 2) - 1]!.loop.throughput, memory.rss, memory.peak]);
    }
    postProgress.finish();
    printTable(`3. POST /v1/asr over HTTP to a node in its own process (RSS idle ${idle.rss.toFixed(0)} MB); "vs in-process" = requests/s over phase 2's clips/s at min(concurrency, 2) in flight`, ['concurrency', 'requests/s', 'p50 ms', 'p99 ms', 'RTF (median)', 'audio s / s', 'errors', 'vs in-process', 'RSS MB', 'peak RSS MB'], postRows);

    const audio = streamAudio(clips[0]!, voiceEndSample);
    process.stdout.write(`\ngoforward's voice ends at ${((audio.lastVoiced + 1) * CHUNK_MS / 1000).toFixed(2)} s by voice activity (the node's view, used below), ${((audio.lastLoud + 1) * CHUNK_MS / 1000).toFixed(2)} s by energy (-30 dB), of ${clips[0]!.seconds.toFixed(2)} s\n`);
    const repetitionSeconds = (audio.chunks.length * CHUNK_MS + SILENCE_MS) / 1000;
    const repetitions = Math.max(2, Math.ceil(SECONDS / repetitionSeconds));
    const streamRows: (string | number)[][] = [];
    const endSilence = config.speech.stream.endSilenceMs;
    const streamProgress = startProgress({ label: 'bench:asr streams', total: 3, unit: 'runs' });
    for (const streams of [1, 4, 8]) {
      streamProgress.tick(0, `${streams} live streams x${repetitions}`);
      const reports = await Promise.all(Array.from({ length: streams }, () => oneStream(server.url, audio, repetitions))).finally(() => streamProgress.tick());
      const latency = summarize(reports.flatMap((report) => report.latencies));
      const finals = reports.reduce((sum, report) => sum + report.finals, 0);
      const errors = reports.flatMap((report) => report.errors);
      const texts = new Set(reports.flatMap((report) => report.texts));
      streamRows.push([
        streams, `${finals}/${streams * repetitions}`, latency.p50, latency.p99, endSilence, latency.p50 - endSilence,
        median(reports.flatMap((report) => report.partials)), errors.length === 0 ? 0 : errors.join(','), [...texts].map((text) => `"${text}"`).join(' | '), rssMb(pid).rss,
      ]);
    }
    streamProgress.finish();
    printTable(
      `4. Live streams over WebSocket (goforward ${clips[0]!.seconds.toFixed(1)} s + ${SILENCE_MS} ms silence, ${CHUNK_MS} ms chunks in real time, x${repetitions} per stream); latency = last voiced chunk (voice activity's view) sent -> final received, endSilenceMs included by design`,
      ['streams', 'finals/repetitions', 'p50 ms', 'p99 ms', 'endSilenceMs', 'p50 beyond endSilence', 'partials per utterance (median)', 'errors', 'final texts', 'RSS MB'],
      streamRows,
    );
    const memory = rssMb(pid);
    process.stdout.write(`node RSS after the runs: ${memory.rss.toFixed(0)} MB (peak ${memory.peak.toFixed(0)} MB)\n`);
  } finally {
    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await exited;
  }
}

await main();
