/**
 * A reload of the ASR model in the middle of a transcription: the transcription holds the version it
 * looked up (ModelRepository.hold), so the registry keeps it past the reload's grace and the
 * transcription finishes on it. Real models and runtime; the grace is 0 so that, without the hold,
 * the old version would be gone the moment the new one serves.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { GOFORWARD_WAV } from '../support/real-speech.ts';
import { pauseRuns, reloadToVersion2, scratchRegistry, type ScratchRegistry } from '../support/reload-pause.ts';

const SPEECH_MODELS = ['asr', 'melspec', 'speech_embedding', 'silero_vad'];

let scratch: ScratchRegistry;

beforeAll(async () => {
  scratch = await scratchRegistry(SPEECH_MODELS);
});

afterAll(async () => {
  await scratch?.close();
});

describe('reloading the ASR model during a transcription', () => {
  it('the transcription finishes on the version it started with; the old version is dropped after it', async () => {
    const { registry, root, runtime } = scratch;
    // Stop the transcription just before its ASR run until version 2 serves.
    const paused = pauseRuns(registry, 'asr');
    const config = loadConfig({ runtime: { workers: 1 }, models: { repository: root } });
    const speech = createSpeechTasks({ repository: paused.repository, config });
    const transcription = speech.transcribe(await readFile(GOFORWARD_WAV));
    await paused.reached;
    const { reload } = await reloadToVersion2(registry, root, 'asr');
    paused.proceed();

    const result = await transcription;
    expect(result.version).toBe('1');
    expect(result.text).toBe('go forward ten meters');
    await reload;
    expect(runtime.signature('asr', '1')).toBeUndefined();
    expect((await speech.transcribe(await readFile(GOFORWARD_WAV))).version).toBe('2');
  });
});
