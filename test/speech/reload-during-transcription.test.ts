/**
 * A reload of the ASR model in the middle of a transcription: the transcription holds the version it
 * looked up (ModelRepository.hold), so the registry keeps it past the reload's grace and the
 * transcription finishes on it. Real models and runtime; the grace is 0 so that, without the hold,
 * the old version would be gone the moment the new one serves.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { ModelRepository } from '../../services/core/contracts.ts';
import { ModelRegistry } from '../../services/registry/model-registry.ts';
import { createRuntime, type OnnxRuntime } from '../../services/runtime/index.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { GOFORWARD_WAV } from '../support/real-speech.ts';

const SPEECH_MODELS = ['asr', 'melspec', 'speech_embedding', 'silero_vad'];

let root: string;
let runtime: OnnxRuntime;
let registry: ModelRegistry;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mec-asr-reload-'));
  for (const name of SPEECH_MODELS) await cp(path.join(PROJECT_ROOT, 'models/repository', name), path.join(root, name), { recursive: true });
  const config = loadConfig({ runtime: { workers: 1 }, models: { repository: root, load: SPEECH_MODELS } });
  runtime = createRuntime(config);
  registry = new ModelRegistry({ root, runtime, maxQueueSize: 8, queueTimeoutMs: 5_000, retireGraceMs: 0 });
  await registry.refresh();
  await registry.loadAll(SPEECH_MODELS);
});

afterAll(async () => {
  await registry?.close();
  await rm(root, { recursive: true, force: true });
});

describe('reloading the ASR model during a transcription', () => {
  it('the transcription finishes on the version it started with; the old version is dropped after it', async () => {
    // Stop the transcription just before its ASR run until version 2 serves.
    let reachedAsr!: () => void;
    const atAsr = new Promise<void>((resolve) => (reachedAsr = resolve));
    let proceed!: () => void;
    const mayProceed = new Promise<void>((resolve) => (proceed = resolve));
    const paused: ModelRepository = Object.create(registry, {
      infer: {
        value: async (...args: Parameters<ModelRepository['infer']>) => {
          if (args[0] === 'asr') {
            reachedAsr();
            await mayProceed;
          }
          return registry.infer(...args);
        },
      },
      hold: { value: (name: string, version: string) => registry.hold(name, version) },
      get: { value: (name: string, version?: string) => registry.get(name, version) },
    });
    const config = loadConfig({ runtime: { workers: 1 }, models: { repository: root } });
    const speech = createSpeechTasks({ repository: paused, config });
    const transcription = speech.transcribe(await readFile(GOFORWARD_WAV));
    await atAsr;

    const folder = path.join(root, 'asr');
    await cp(path.join(folder, '1'), path.join(folder, '2'), { recursive: true });
    const card = JSON.parse(await readFile(path.join(folder, 'card.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(folder, 'card.json'), JSON.stringify({ ...card, version: '2', file: '2/model.onnx' }));
    const reload = registry.load('asr');
    while (registry.get('asr').version !== '2') await new Promise((resolve) => setTimeout(resolve, 10));
    proceed();

    const result = await transcription;
    expect(result.version).toBe('1');
    expect(result.text).toBe('go forward ten meters');
    await reload;
    expect(runtime.signature('asr', '1')).toBeUndefined();
    expect((await speech.transcribe(await readFile(GOFORWARD_WAV))).version).toBe('2');
  });
});
