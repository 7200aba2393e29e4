/**
 * Tunes the beam decoder's language-model weight and word bonus on the VALIDATION split (never the
 * held-out test set): the acoustic model runs once per clip through the service's own repository
 * and front end, then every setting of the grid decodes the cached log-probabilities.
 *
 *   npx tsx models/asr/tune-decoder.ts DATA_DIR   -> models/repository/asr/decoder.json
 *
 * Then `python3 models/asr/card.py --out models/repository/asr` puts the winner in the card.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { decodeCtc, decodeGreedy, type DecoderSettings } from '../../services/tasks/speech/ctc-decoder.ts';
import { computeFeatures } from '../../services/tasks/speech/front-end.ts';
import { frozenModel } from '../../services/tasks/speech/frozen-model.ts';
import { recogniserOf } from '../../services/tasks/speech/recogniser.ts';
import { decodeWav } from '../../services/tasks/speech/wav.ts';
import { wordErrors } from './scoring.ts';

const MODEL = 'asr';

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: tune-decoder.ts DATA_DIR');
  const load = ['melspec', 'speech_embedding', MODEL];
  const config = loadConfig({ runtime: { workers: 2, intraOpThreads: 1 }, models: { load }, log: { level: 'warn' } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load });
  const loaded = repository.get(MODEL);
  const recogniser = recogniserOf(loaded.card, loaded.signature);
  const models = { melspec: frozenModel(repository, recogniser.frontEnd.melspec), embedding: frozenModel(repository, recogniser.frontEnd.embedding) };

  const clips = (await readFile(join(dataDir, 'val.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { file: string; text: string });
  const cached: Array<{ reference: string[]; values: Float32Array; steps: number }> = [];
  try {
    // A few clips at a time: the runtime's queues are bounded (and this is what a node would see).
    for (let first = 0; first < clips.length; first += 8) {
      await Promise.all(
        clips.slice(first, first + 8).map(async (clip) => {
        const wav = decodeWav(await readFile(join(dataDir, clip.file)), { maxSeconds: 60, maxChannels: 2 });
        const features = await computeFeatures(wav.samples, models);
        const result = await repository.infer(MODEL, undefined, {
          mel: { type: 'float32', dims: [1, features.frames, 32], data: features.mel },
          embeddings: { type: 'float32', dims: [1, features.windows, 96], data: features.embeddings },
        });
        const out = result.outputs.log_probs!;
        cached.push({ reference: clip.text.split(' '), values: out.data as Float32Array, steps: out.dims[1]! });
        }),
      );
    }
  } finally {
    await repository.close();
  }

  const wer = (decode: (entry: (typeof cached)[number]) => string[]): number => {
    let errors = 0;
    let words = 0;
    for (const entry of cached) {
      errors += wordErrors(entry.reference, decode(entry)).errors;
      words += entry.reference.length;
    }
    return errors / words;
  };
  const toWords = (tokens: number[]): string[] => tokens.map((token) => recogniser.words[token - 1]!);
  const greedyWer = wer((entry) => toWords(decodeGreedy(entry.values, entry.steps, recogniser.tokens)));
  const grid: Array<{ lmWeight: number; wordBonus: number; wer: number }> = [];
  const base: DecoderSettings = { beamWidth: 16, lmWeight: 0, wordBonus: 0, tokenFloor: -9 };
  for (const lmWeight of [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3]) {
    for (const wordBonus of [-1, -0.5, 0, 0.5, 1, 2]) {
      const settings = { ...base, lmWeight, wordBonus };
      grid.push({ lmWeight, wordBonus, wer: wer((entry) => toWords(decodeCtc(entry.values, entry.steps, recogniser.tokens, recogniser.bigram, settings).map((word) => word.token))) });
    }
  }
  grid.sort((a, b) => a.wer - b.wer || a.lmWeight - b.lmWeight);
  const best = grid[0]!;
  const summary = {
    settings: { ...base, lmWeight: best.lmWeight, wordBonus: best.wordBonus },
    validation: { clips: cached.length, greedyWer: Number(greedyWer.toFixed(4)), beamWer: Number(best.wer.toFixed(4)), grid: grid.map((entry) => ({ ...entry, wer: Number(entry.wer.toFixed(4)) })) },
  };
  await writeFile(join(PROJECT_ROOT, 'models', 'repository', MODEL, 'decoder.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`validation (${cached.length} clips): greedy WER ${(greedyWer * 100).toFixed(2)}%, beam WER ${(best.wer * 100).toFixed(2)}% at lmWeight ${best.lmWeight}, wordBonus ${best.wordBonus}`);
}

await main();
