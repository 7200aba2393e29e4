/**
 * The compute figures that drive the placement simulation, measured on this machine at bench
 * start: the real models through the project's task layer (decode, pre-process, infer on the
 * worker pool, post-process), one request at a time, so each sample is an unloaded service time.
 * Each input keeps its own samples, so the simulation draws a request's size and its service
 * time from the same input (a long recording is both bigger and slower).
 *
 *   detect : nanodet (the small variant) and centernet (the large one) on the test photos
 *   inspect: the defect model on the inspection fixtures (camera frames, their own surface)
 *   asr    : the transcribe task on real recordings
 *   blur-faces: finding faces (the faces task: BlazeFace, then expressions) on the same images,
 *           what an internal image costs before it may go to the cloud (the blur itself is cheap)
 *
 * Sizes are the real request bytes (JPEG/WAV files) and the real answers (their JSON).
 * BENCH_QUICK=1 takes fewer samples.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { createVisionTasks } from '../../services/tasks/vision/index.ts';
import type { PlacementTask } from '../../services/scheduler/types.ts';

/** One request body the measurements ran on. */
export interface MeasuredInput {
  name: string;
  /** Request size as sent (the file). */
  bytes: number;
  /** The answer's size (its JSON). */
  answerBytes: number;
}

/** Service times of one model, per input of its task (same order as the task's inputs). */
export interface MeasuredModel {
  model: string;
  task: PlacementTask;
  samplesMs: number[][];
}

export interface Measurements {
  /** What it was measured on, for the printout. */
  machine: string;
  inputs: Record<PlacementTask, MeasuredInput[]>;
  models: Record<string, MeasuredModel>;
  /** Finding faces to blur, per input of the image tasks (same order as their inputs). */
  blurFacesMs: Record<'detect' | 'inspect', number[][]>;
  elapsedMs: number;
}

const PHOTOS = ['dog.jpg', 'person.jpg', 'horses.jpg'];
const RECORDINGS = ['goforward.wav', 'tidigits-dhd-2934z.wav', 'cards-004.wav'];
const SPEECH_MODELS = ['melspec', 'speech_embedding', 'silero_vad', 'asr'];
const MODELS = ['nanodet', 'centernet', 'defect', 'blazeface', 'emotion', ...SPEECH_MODELS];

interface InspectFixture {
  file: string;
  surface: string;
}

/** One thing to time: a model (or the face finder) over its task's inputs, by input index. */
interface Probe {
  name: string;
  inputs: number;
  run(index: number): Promise<unknown>;
}

function probe<T>(name: string, inputs: readonly T[], run: (input: T) => Promise<unknown>): Probe {
  return { name, inputs: inputs.length, run: (index) => run(inputs[index]!) };
}

/**
 * Times every probe `rounds` times, one run at a time, after one warm-up run per input. Probes
 * take turns within a round (each on its next input), so a burst of load from elsewhere on this
 * shared machine slows all models alike instead of one model's whole series.
 */
async function sampleInterleaved(probes: readonly Probe[], rounds: number): Promise<number[][][]> {
  for (const { inputs, run } of probes) for (let input = 0; input < inputs; input += 1) await run(input);
  const samples = probes.map(({ inputs }) => Array.from({ length: inputs }, (): number[] => []));
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, { inputs, run }] of probes.entries()) {
      const input = round % inputs;
      const started = performance.now();
      await run(input);
      samples[index]![input]!.push(performance.now() - started);
    }
  }
  return samples;
}

const answerBytes = (answer: unknown): number => Buffer.byteLength(JSON.stringify(answer));

export async function measureCompute(samplesPerModel = process.env.BENCH_QUICK === '1' ? 10 : 30): Promise<Measurements> {
  const started = performance.now();
  const config = loadConfig({ log: { level: 'warn' }, models: { load: MODELS } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: MODELS });
  try {
    const vision = createVisionTasks({ repository, config });
    const inspection = createInspectionTasks({ repository, config });
    const speech = createSpeechTasks({ repository, config });

    const photos = PHOTOS.map((name) => ({ name, body: readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images', name)) }));
    const inspectDir = path.join(PROJECT_ROOT, 'test/fixtures/inspect');
    const fixtures = JSON.parse(readFileSync(path.join(inspectDir, 'manifest.json'), 'utf8')) as InspectFixture[];
    const frames = fixtures.map((fixture) => ({ name: fixture.file, surface: fixture.surface, body: readFileSync(path.join(inspectDir, fixture.file)) }));
    const recordings = RECORDINGS.map((name) => ({ name, body: readFileSync(path.join(PROJECT_ROOT, 'models/asr/real-speech', name)) }));

    const inputs: Record<PlacementTask, MeasuredInput[]> = {
      detect: await Promise.all(photos.map(async (photo) => ({ name: photo.name, bytes: photo.body.length, answerBytes: answerBytes(await vision.detect(photo.body, { model: 'nanodet' })) }))),
      inspect: await Promise.all(frames.map(async (frame) => ({ name: frame.name, bytes: frame.body.length, answerBytes: answerBytes(await inspection.inspect(frame.body, { surface: frame.surface })) }))),
      asr: [],
    };
    for (const recording of recordings) {
      inputs.asr.push({ name: recording.name, bytes: recording.body.length, answerBytes: answerBytes(await speech.transcribe(recording.body)) });
    }

    const probes = [
      probe('nanodet', photos, (photo) => vision.detect(photo.body, { model: 'nanodet' })),
      probe('centernet', photos, (photo) => vision.detect(photo.body, { model: 'centernet' })),
      probe('defect', frames, (frame) => inspection.inspect(frame.body, { surface: frame.surface })),
      probe('asr', recordings, (recording) => speech.transcribe(recording.body)),
      probe('faces on photos', photos, (photo) => vision.faces(photo.body)),
      probe('faces on frames', frames, (frame) => vision.faces(frame.body)),
    ];
    const loadBefore = os.loadavg()[0]!;
    const [nanodet, centernet, defect, asr, facesDetect, facesInspect] = await sampleInterleaved(probes, samplesPerModel);
    const models: Record<string, MeasuredModel> = {
      nanodet: { model: 'nanodet', task: 'detect', samplesMs: nanodet! },
      centernet: { model: 'centernet', task: 'detect', samplesMs: centernet! },
      defect: { model: 'defect', task: 'inspect', samplesMs: defect! },
      asr: { model: 'asr', task: 'asr', samplesMs: asr! },
    };
    const blurFacesMs = { detect: facesDetect!, inspect: facesInspect! };

    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown cpu';
    // This machine is shared: the load average says how much else ran while it was measured.
    const load = `load average ${loadBefore.toFixed(1)} -> ${os.loadavg()[0]!.toFixed(1)}`;
    const machine = `${os.cpus().length} x ${cpu}, ${config.runtime.workers} workers x ${config.runtime.intraOpThreads} intra-op thread(s), ${load}`;
    return { machine, inputs, models, blurFacesMs, elapsedMs: performance.now() - started };
  } finally {
    await repository.close();
  }
}
