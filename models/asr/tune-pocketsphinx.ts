/**
 * Tunes the peer's decoding settings on the VALIDATION split (never the held-out test set), as
 * tune-decoder.ts tunes ours, so that eval:asr compares against pocketsphinx at its best on this
 * task and not at defaults that insert words all over our word loop.
 *
 *   npx tsx models/asr/tune-pocketsphinx.ts DATA_DIR   -> models/asr/pocketsphinx-settings.json
 *
 * What matters for its FSG (JSGF) search, read from pocketsphinx 0.8+5prealpha's fsg_search.c:
 * every word entry costs lw * (ln wip + ln P(grammar transition)) and every phone lw * ln pip,
 * against unscaled acoustic scores. So wip and pip set the insertion / deletion balance and lw
 * scales both; when a penalty exceeds the beam (1e-48) the search prunes everything ("No active
 * HMM") and returns empty hypotheses, which the grid records as dead, not as a WER.
 *
 * Grid: wip x lw, each setting one pocketsphinx_batch process over all validation clips (the
 * model loads once per setting), then pip at the best wip x lw, then the beams widened (WIDE_BEAMS,
 * about 1.5x the CPU) at the best wip and 10x, 100x smaller, where the default beam was pruning.
 * Serial on core 0, 30-45 s per setting. Settings already scored in an existing
 * pocketsphinx-settings.json over the same number of clips are taken from it, not rerun (delete
 * the file to start afresh).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_POCKETSPHINX_SETTINGS, pocketsphinxSettings, readVocabulary, recogniseAll, TUNED_SETTINGS_FILE, type PocketsphinxSettings } from './pocketsphinx.ts';
import { scoreGroup, wordErrors } from './scoring.ts';

const WIPS = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6];
const LWS = [3, 6.5, 10];
const PIPS = [0.3, 0.1];
const WIDE_BEAMS = { beam: 1e-80, pbeam: 1e-80, wbeam: 1e-50 };

interface Trial {
  settings: Partial<PocketsphinxSettings>;
  /** Over the whole split; null when the search died on some frame (the setting is unusable). */
  wer: number | null;
  sentenceAccuracy: number;
  substitutions: number;
  deletions: number;
  insertions: number;
  deadFrames: number;
  cpuSeconds: number;
}

const round = (value: number): number => Number(value.toFixed(4));

async function main(): Promise<void> {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: tune-pocketsphinx.ts DATA_DIR (holding val.jsonl and val/*.wav from synth.py)');
  const clips = readFileSync(path.join(dataDir, 'val.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { file: string; text: string });
  const files = clips.map((clip) => path.join(dataDir, clip.file));
  const vocabulary = await readVocabulary();

  const previous = new Map<string, Trial>();
  if (existsSync(TUNED_SETTINGS_FILE)) {
    const earlier = JSON.parse(readFileSync(TUNED_SETTINGS_FILE, 'utf8')) as { validation?: { clips?: number; grid?: Trial[] } };
    if (earlier.validation?.clips === clips.length) for (const entry of earlier.validation.grid ?? []) previous.set(JSON.stringify(entry.settings), entry);
  }
  const trials: Trial[] = [];
  const trial = async (overrides: Partial<PocketsphinxSettings>): Promise<Trial> => {
    const known = previous.get(JSON.stringify(overrides));
    if (known) {
      trials.push(known);
      process.stdout.write(`${JSON.stringify(overrides)}: WER ${known.wer === null ? 'dead' : `${(known.wer * 100).toFixed(2)}%`} (from the earlier run)\n`);
      return known;
    }
    const run = await recogniseAll(files, vocabulary, pocketsphinxSettings(overrides));
    const errors = clips.map((clip, index) => wordErrors(clip.text, run.transcripts[index]!.text));
    const score = scoreGroup(errors);
    const total = (key: 'substitutions' | 'deletions' | 'insertions'): number => errors.reduce((sum, entry) => sum + entry[key], 0);
    const result: Trial = {
      settings: overrides,
      wer: run.deadFrames > 0 ? null : round(score.wer),
      sentenceAccuracy: round(score.sentenceAccuracy),
      substitutions: total('substitutions'),
      deletions: total('deletions'),
      insertions: total('insertions'),
      deadFrames: run.deadFrames,
      cpuSeconds: Number((run.processCpuMs / 1000).toFixed(1)),
    };
    trials.push(result);
    const wer = result.wer === null ? `dead (${run.deadFrames} frames without an active HMM)` : `WER ${(result.wer * 100).toFixed(2)}%`;
    process.stdout.write(`${JSON.stringify(overrides)}: ${wer}, S ${result.substitutions} D ${result.deletions} I ${result.insertions}, ${result.cpuSeconds} s CPU\n`);
    return result;
  };
  const best = (): Trial => trials.filter((entry) => entry.wer !== null).sort((a, b) => a.wer! - b.wer!)[0]!;

  process.stdout.write(`pocketsphinx on ${clips.length} validation clips, one process per setting on core 0\n`);
  const defaults = await trial({});
  for (const lw of LWS) for (const wip of WIPS) await trial({ wip, lw });
  const { wip, lw } = best().settings;
  for (const pip of PIPS) await trial({ wip, lw, pip });
  const narrow = best().settings;
  for (const divisor of [1, 10, 100]) await trial({ ...narrow, wip: narrow.wip! / divisor, ...WIDE_BEAMS });

  const winner = best();
  const settings = pocketsphinxSettings(winner.settings);
  const summary = {
    settings,
    validation: {
      clips: clips.length,
      words: clips.reduce((sum, clip) => sum + clip.text.split(' ').length, 0),
      defaultSettings: DEFAULT_POCKETSPHINX_SETTINGS,
      defaultWer: defaults.wer,
      tunedWer: winner.wer,
      grid: trials,
    },
  };
  writeFileSync(TUNED_SETTINGS_FILE, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`validation (${clips.length} clips): WER ${(defaults.wer! * 100).toFixed(2)}% at defaults, ${(winner.wer! * 100).toFixed(2)}% tuned at ${JSON.stringify(winner.settings)} -> ${TUNED_SETTINGS_FILE}\n`);
}

await main();
