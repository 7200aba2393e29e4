/**
 * `npm run eval:asr`: our speech recogniser, through the service's own transcribe task (WAV
 * decoding, voice activity, front end, acoustic model, beam search: what POST /v1/asr does), side
 * by side with the peer issue 4 sets us to beat, Debian's pocketsphinx restricted to the same
 * vocabulary (models/asr/pocketsphinx.ts), on the same audio:
 *  - the held-out synthetic set (synth.py --splits test: sentences, espeak voice variants and the
 *    Festival ked voice never used in training, clean and through the field effects), and
 *  - real human speech (models/asr/real-speech: CMU Sphinx's test recordings and the Asterisk
 *    prompts, every word in our vocabulary; see its README).
 * pocketsphinx runs with the settings tuned on validation (tune-pocketsphinx.ts ->
 * pocketsphinx-settings.json), as our decoder's are (tune-decoder.ts).
 *
 * Prints, per group: clips, words, word error rate (word-level Levenshtein over the group,
 * scoring.ts), sentence accuracy, for both, and ours / pocketsphinx; then the real-time factor
 * (processing time / audio time) of each, per clip and in total, with ours split by phase; then
 * the most frequent word confusions of ours, which say what to fix.
 *
 *   npm run eval:asr [-- --data DIR --limit N --json FILE --model asr --peer-defaults --peer-only]
 * DIR defaults to models/asr/data (generated, not committed); without DIR/test.jsonl the held-out
 * set is synthesised there first (python3 models/asr/synth.py --splits test; espeak-ng, Festival).
 *
 * Real-time factor: ours runs one clip at a time on 1 inference worker with 1 intra-op thread;
 * pocketsphinx runs in one process pinned to core 0. "CPU" figures are processor time (all
 * threads, user + sys) per second of audio, the cost on one core whatever else the machine runs;
 * "wall" figures are elapsed time and move with the machine's load.
 *
 * pocketsphinx decodes with the settings tuned on the validation split (models/asr/
 * pocketsphinx-settings.json, from tune-pocketsphinx.ts) when that file exists, else with its
 * defaults; the table titles say which. --peer-defaults adds a column for pocketsphinx at its
 * defaults (a second pass over the clips); --peer-only runs pocketsphinx alone and prints its
 * table (to check the peer without the cost of ours).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { TranscribeResult } from '../../services/core/contracts.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createSpeechTasks } from '../../services/tasks/speech/index.ts';
import { decodeWav } from '../../services/tasks/speech/wav.ts';
import { printTable } from '../../bench/lib/table.ts';
import { median } from '../../bench/lib/stats.ts';
import { DEFAULT_POCKETSPHINX_SETTINGS, readTunedSettings, readVocabulary, recogniseAll, TUNED_SETTINGS_FILE, type PeerRun } from './pocketsphinx.ts';
import { startProgress } from '../../services/cli/progress.ts';
import { scoreGroup, topConfusions, wordErrors, type GroupScore, type WordErrors } from './scoring.ts';

/** One line of DIR/test.jsonl (synth.py). */
interface SynthClip {
  id: string;
  file: string;
  text: string;
  engine: string;
  voice: string;
  condition: string;
}

/** One entry of models/asr/real-speech/manifest.json. */
interface RealClip {
  file: string;
  text: string;
  source: string;
  licence: string;
}

/** A clip both recognisers hear, with the groups it counts in. */
interface Clip {
  id: string;
  path: string;
  text: string;
  groups: string[];
  durationMs: number;
}

interface Outcome {
  clip: Clip;
  ours: TranscribeResult;
  oursErrors: WordErrors;
  peerText: string;
  peerErrors: WordErrors;
  /** pocketsphinx at its defaults, when --peer-defaults asked for it. */
  peerDefaultErrors?: WordErrors;
  peerCpuMs: number;
  peerWallMs: number;
}

const REAL_SPEECH_DIR = path.join(PROJECT_ROOT, 'models', 'asr', 'real-speech');
const GROUPS = ['held-out espeak voices', 'Festival ked (held out)', 'field condition', 'clean condition', 'all synthetic', 'real human speech'] as const;

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: path.join(PROJECT_ROOT, 'models', 'asr', 'data') },
    limit: { type: 'string' },
    json: { type: 'string' },
    model: { type: 'string' },
    'peer-defaults': { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
  },
});

function durationMs(file: string): number {
  const wav = decodeWav(readFileSync(file), { maxSeconds: 600, maxChannels: 8 });
  return (wav.frames / wav.sampleRate) * 1000;
}

function synthClips(dir: string, limit: number | undefined): Clip[] {
  const manifest = path.join(dir, 'test.jsonl');
  if (!existsSync(manifest)) {
    process.stdout.write(`${manifest} missing: synthesising the held-out set into ${dir} (synth.py --splits test)\n`);
    execFileSync('/usr/bin/python3', [path.join(PROJECT_ROOT, 'models/asr/synth.py'), '--out', dir, '--splits', 'test'], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  const lines = readFileSync(manifest, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const clips = lines.map((line) => JSON.parse(line) as SynthClip).slice(0, limit);
  return clips.map((clip) => {
    const file = path.join(dir, clip.file);
    const groups = ['all synthetic', clip.condition === 'field' ? 'field condition' : 'clean condition'];
    if (clip.engine === 'espeak') groups.push('held-out espeak voices');
    if (clip.engine === 'festival') groups.push('Festival ked (held out)');
    return { id: clip.id, path: file, text: clip.text, groups, durationMs: durationMs(file) };
  });
}

function realClips(): Clip[] {
  const manifest = JSON.parse(readFileSync(path.join(REAL_SPEECH_DIR, 'manifest.json'), 'utf8')) as RealClip[];
  return manifest.map((clip) => {
    const file = path.join(REAL_SPEECH_DIR, clip.file);
    return { id: `real:${clip.file}`, path: file, text: clip.text, groups: ['real human speech'], durationMs: durationMs(file) };
  });
}

/** The card's own list of the front-end models it needs, else the service's defaults. */
function modelsToLoad(repositoryDir: string, model: string): string[] {
  const fallback = ['melspec', 'speech_embedding', 'silero_vad'];
  try {
    const card = JSON.parse(readFileSync(path.join(repositoryDir, model, 'card.json'), 'utf8')) as { defaults?: { frontEnd?: Record<string, string> } };
    const frontEnd = Object.values(card.defaults?.frontEnd ?? {});
    return [model, ...(frontEnd.length > 0 ? frontEnd : fallback)];
  } catch {
    return [model, ...fallback];
  }
}

/** Ours, one clip at a time (1 worker x 1 thread, as the RTF target is stated); CPU of the whole process over the run. */
async function runOurs(clips: readonly Clip[], modelOverride: string | undefined): Promise<{ results: TranscribeResult[]; cpuMs: number; wallMs: number; model: string }> {
  const base = loadConfig({ runtime: { workers: 1, intraOpThreads: 1 }, log: { level: 'warn' } });
  const model = modelOverride ?? base.speech.model;
  const load = modelsToLoad(base.models.repository, model);
  const config = loadConfig({ runtime: { workers: 1, intraOpThreads: 1 }, speech: { model }, models: { load }, log: { level: 'warn' } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load });
  const speech = createSpeechTasks({ repository, config });
  try {
    // One warm-up clip: the first inference of a session allocates its arena, which is not the steady state.
    if (clips[0]) await speech.transcribe(readFileSync(clips[0].path));
    const results: TranscribeResult[] = [];
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const progress = startProgress({ label: `eval:asr ${model}`, total: clips.length, unit: 'clips' });
    for (const clip of clips) {
      results.push(await speech.transcribe(readFileSync(clip.path)));
      progress.tick(1, clip.id);
    }
    const cpu = process.cpuUsage(cpuBefore);
    progress.finish();
    return { results, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wallBefore, model };
  } finally {
    await repository.close();
  }
}

const ratio = (ours: number, peer: number): number => (peer === 0 ? (ours === 0 ? 1 : Number.POSITIVE_INFINITY) : ours / peer);
const percent = (value: number): string => (Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : '-');
const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function groupRows(outcomes: readonly Outcome[]) {
  const rows: (string | number)[][] = [];
  const summaries: Array<{ group: string; ours: GroupScore; pocketsphinx: GroupScore; pocketsphinxDefaults?: GroupScore; werRatio: number }> = [];
  const withDefaults = outcomes.every((outcome) => outcome.peerDefaultErrors !== undefined);
  for (const group of GROUPS) {
    const subset = outcomes.filter((outcome) => outcome.clip.groups.includes(group));
    if (subset.length === 0) continue;
    const ours = scoreGroup(subset.map((outcome) => outcome.oursErrors));
    const pocketsphinx = scoreGroup(subset.map((outcome) => outcome.peerErrors));
    const pocketsphinxDefaults = withDefaults ? scoreGroup(subset.map((outcome) => outcome.peerDefaultErrors!)) : undefined;
    const werRatio = ratio(ours.wer, pocketsphinx.wer);
    summaries.push({ group, ours, pocketsphinx, ...(pocketsphinxDefaults ? { pocketsphinxDefaults } : {}), werRatio });
    rows.push([
      group,
      ours.clips,
      ours.words,
      percent(ours.wer),
      percent(pocketsphinx.wer),
      ...(pocketsphinxDefaults ? [percent(pocketsphinxDefaults.wer)] : []),
      fixed(werRatio, 2),
      percent(ours.sentenceAccuracy),
      percent(pocketsphinx.sentenceAccuracy),
    ]);
  }
  return { rows, summaries, withDefaults };
}

/** --peer-only: pocketsphinx's WER per group, tuned (or defaults) and, if run, at defaults, without running ours. */
function printPeerOnly(clips: readonly Clip[], peer: PeerRun, peerDefaults: PeerRun | undefined, peerLabel: string, dir: string): void {
  const rows: (string | number)[][] = [];
  for (const group of GROUPS) {
    const indices = clips.flatMap((clip, index) => (clip.groups.includes(group) ? [index] : []));
    if (indices.length === 0) continue;
    const errorsOf = (run: PeerRun) => indices.map((index) => wordErrors(clips[index]!.text, run.transcripts[index]!.text));
    const errors = errorsOf(peer);
    const score = scoreGroup(errors);
    const sum = (key: 'substitutions' | 'deletions' | 'insertions') => errors.reduce((total, entry) => total + entry[key], 0);
    rows.push([group, score.clips, score.words, percent(score.wer), `${sum('substitutions')} / ${sum('deletions')} / ${sum('insertions')}`, percent(score.sentenceAccuracy), ...(peerDefaults ? [percent(scoreGroup(errorsOf(peerDefaults)).wer)] : [])]);
  }
  printTable(
    `pocketsphinx alone (--peer-only), ${peerLabel}: ${clips.length} clips of ${dir} and models/asr/real-speech`,
    ['group', 'clips', 'words', 'WER pocketsphinx', 'S / D / I', 'sentences pocketsphinx', ...(peerDefaults ? ['WER pocketsphinx (defaults)'] : [])],
    rows,
  );
}

/** pocketsphinx decodes every clip in one batch process: its progress is the elapsed time, then all clips at once. */
async function peerRun(label: string, clips: readonly Clip[], run: () => Promise<PeerRun>): Promise<PeerRun> {
  const progress = startProgress({ label, total: clips.length, unit: 'clips' });
  try {
    const result = await run();
    progress.update(clips.length);
    return result;
  } finally {
    progress.finish();
  }
}

async function main(): Promise<void> {
  const limit = args.limit === undefined ? undefined : Number(args.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new Error(`--limit takes a positive whole number of clips, not "${args.limit}"`);
  const dir = path.resolve(args.data!);
  const clips = [...synthClips(dir, limit), ...realClips()];
  const vocabulary = await readVocabulary();

  const tuned = readTunedSettings();
  const peerLabel = tuned
    ? `pocketsphinx tuned on the validation split (${path.relative(PROJECT_ROOT, TUNED_SETTINGS_FILE)}: wip ${tuned.wip}, lw ${tuned.lw}, pip ${tuned.pip}, beam ${tuned.beam}, wbeam ${tuned.wbeam})`
    : `pocketsphinx at its defaults (no ${path.relative(PROJECT_ROOT, TUNED_SETTINGS_FILE)}; run tune-pocketsphinx.ts)`;
  process.stdout.write(`pocketsphinx: ${clips.length} clips in one process on core 0, ${tuned ? 'tuned settings' : 'defaults'}...\n`);
  const peer: PeerRun = await peerRun('eval:asr pocketsphinx', clips, () => recogniseAll(clips.map((clip) => clip.path), vocabulary, tuned ?? DEFAULT_POCKETSPHINX_SETTINGS));
  if (peer.deadFrames > 0) throw new Error(`pocketsphinx's search died on ${peer.deadFrames} frames (No active HMM) with these settings; retune (tune-pocketsphinx.ts) or delete ${TUNED_SETTINGS_FILE}`);
  let peerDefaults: PeerRun | undefined;
  if (args['peer-defaults'] && tuned) {
    process.stdout.write(`pocketsphinx at its defaults (--peer-defaults): ${clips.length} clips again...\n`);
    peerDefaults = await peerRun('eval:asr pocketsphinx defaults', clips, () => recogniseAll(clips.map((clip) => clip.path), vocabulary, DEFAULT_POCKETSPHINX_SETTINGS));
  }
  if (args['peer-only']) {
    printPeerOnly(clips, peer, peerDefaults, peerLabel, dir);
    return;
  }
  process.stdout.write(`ours: ${clips.length} clips through the transcribe task...\n`);
  const ours = await runOurs(clips, args.model);

  const outcomes: Outcome[] = clips.map((clip, index) => {
    const result = ours.results[index]!;
    const peerResult = peer.transcripts[index]!;
    return {
      clip,
      ours: result,
      oursErrors: wordErrors(clip.text, result.text),
      peerText: peerResult.text,
      peerErrors: wordErrors(clip.text, peerResult.text),
      ...(peerDefaults ? { peerDefaultErrors: wordErrors(clip.text, peerDefaults.transcripts[index]!.text) } : {}),
      peerCpuMs: peerResult.cpuMs,
      peerWallMs: peerResult.wallMs,
    };
  });

  const synthetic = outcomes.filter((outcome) => outcome.clip.groups.includes('all synthetic')).length;
  const { rows, summaries, withDefaults } = groupRows(outcomes);
  printTable(
    `Speech recognition, ours (${ours.model}, via the transcribe task) vs ${peerLabel} (same vocabulary, JSGF word loop): ${synthetic} held-out synthetic clips of ${dir}, ${outcomes.length - synthetic} real recordings`,
    ['group', 'clips', 'words', 'WER ours', 'WER pocketsphinx', ...(withDefaults ? ['WER pocketsphinx (defaults)'] : []), 'WER ours/ps', 'sentences ours', 'sentences pocketsphinx'],
    rows,
  );

  const audioMs = outcomes.reduce((sum, outcome) => sum + outcome.clip.durationMs, 0);
  const oursRtf = median(outcomes.map((outcome) => outcome.ours.timings.total_ms / outcome.clip.durationMs));
  const peerCpuRtf = median(outcomes.map((outcome) => outcome.peerCpuMs / outcome.clip.durationMs));
  const peerWallRtf = median(outcomes.map((outcome) => outcome.peerWallMs / outcome.clip.durationMs));
  const peerUtteranceCpuMs = outcomes.reduce((sum, outcome) => sum + outcome.peerCpuMs, 0);
  const speed = {
    audioSeconds: audioMs / 1000,
    ours: { medianClipWall: oursRtf, totalCpu: ours.cpuMs / audioMs, totalWall: ours.wallMs / audioMs },
    pocketsphinx: { medianClipCpu: peerCpuRtf, medianClipWall: peerWallRtf, totalCpu: peer.processCpuMs / audioMs, totalWall: peer.processWallMs / audioMs, utterancesCpu: peerUtteranceCpuMs / audioMs },
  };
  printTable(
    `Real-time factor (processing time / audio time) over ${speed.audioSeconds.toFixed(0)} s of audio; lower is faster, target <= 0.1 on one core`,
    ['recogniser', 'median per clip', 'total CPU', 'total wall', 'how'],
    [
      ['ours', fixed(oursRtf, 4), fixed(speed.ours.totalCpu, 4), fixed(speed.ours.totalWall, 4), 'per clip: timings.total_ms (wall); total CPU: all threads of this process; 1 worker x 1 thread, 1 clip in flight'],
      ['pocketsphinx', `${fixed(peerCpuRtf, 4)} CPU, ${fixed(peerWallRtf, 4)} wall`, fixed(speed.pocketsphinx.totalCpu, 4), fixed(speed.pocketsphinx.totalWall, 4), 'per clip: its own per-utterance log (10 ms steps); total: /usr/bin/time of the process, model load included; taskset -c 0'],
      ['ours / pocketsphinx', fixed(oursRtf / peerWallRtf, 2), fixed(speed.ours.totalCpu / speed.pocketsphinx.totalCpu, 2), fixed(speed.ours.totalWall / speed.pocketsphinx.totalWall, 2), 'per clip: wall / wall'],
    ],
  );

  // "other" is what the three phases leave of total_ms: feature glue, beam search and worker messages on the event loop.
  const phases: Array<[string, (timings: TranscribeResult['timings']) => number]> = [
    ['decode_ms', (timings) => timings.decode_ms],
    ['queue_ms', (timings) => timings.queue_ms],
    ['infer_ms', (timings) => timings.infer_ms],
    ['other', (timings) => timings.total_ms - timings.decode_ms - timings.queue_ms - timings.infer_ms],
    ['total_ms', (timings) => timings.total_ms],
  ];
  const totalOfTotals = outcomes.reduce((sum, outcome) => sum + outcome.ours.timings.total_ms, 0);
  printTable(
    'Ours by phase (timings of each result): decode = WAV decoding + resampling, queue = waiting for admission and the worker, infer = model runs (VAD, front end, acoustic model), other = the rest of total (beam search, glue)',
    ['phase', 'median ms per clip', 'total ms', 'share of total', 'per second of audio (ms)'],
    phases.map(([phase, of]) => {
      const total = outcomes.reduce((sum, outcome) => sum + of(outcome.ours.timings), 0);
      return [phase, fixed(median(outcomes.map((outcome) => of(outcome.ours.timings))), 2), fixed(total, 0), percent(total / totalOfTotals), fixed((total / audioMs) * 1000, 1)];
    }),
  );

  const confusions = topConfusions(
    outcomes.map((outcome) => outcome.oursErrors),
    10,
  );
  const deletions = outcomes.reduce((sum, outcome) => sum + outcome.oursErrors.deletions, 0);
  const insertions = outcomes.reduce((sum, outcome) => sum + outcome.oursErrors.insertions, 0);
  const substitutions = outcomes.reduce((sum, outcome) => sum + outcome.oursErrors.substitutions, 0);
  printTable(
    `Ours: the 10 most frequent substitutions (of ${substitutions}; besides ${deletions} deletions and ${insertions} insertions), all clips`,
    ['said', 'recognised as', 'times'],
    confusions.map((confusion) => [confusion.reference, confusion.recognised, confusion.count]),
  );

  if (args.json) {
    const perClip = outcomes.map((outcome) => ({
      id: outcome.clip.id,
      text: outcome.clip.text,
      groups: outcome.clip.groups,
      durationMs: Math.round(outcome.clip.durationMs),
      ours: outcome.ours.text,
      oursErrors: outcome.oursErrors.errors,
      oursTimings: outcome.ours.timings,
      pocketsphinx: outcome.peerText,
      pocketsphinxErrors: outcome.peerErrors.errors,
      pocketsphinxCpuMs: outcome.peerCpuMs,
    }));
    writeFileSync(args.json, `${JSON.stringify({ model: ours.model, data: dir, pocketsphinxSettings: tuned ?? DEFAULT_POCKETSPHINX_SETTINGS, pocketsphinxTuned: tuned !== undefined, groups: summaries, speed, confusions, clips: perClip }, null, 2)}\n`);
  }
}

await main();
