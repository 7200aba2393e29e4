/**
 * The peer recogniser eval:asr measures ours against (issue 4): Debian's pocketsphinx
 * 0.8+5prealpha (`apt-get install pocketsphinx pocketsphinx-en-us`) with its US English acoustic
 * model, restricted to OUR vocabulary, so that both recognisers choose among the same words:
 *  - a JSGF word loop `public <s> = ( word1 | word2 | ... )* ;` (any sequence of the words, as
 *    our CTC decoder allows), and
 *  - a dictionary holding only those words, with every pronunciation variant cmudict gives.
 * The word list is read from models/asr/vocabulary.py (the acoustic model's own output layer), so
 * the two can never differ.
 *
 * All clips of a set are decoded by ONE pocketsphinx_batch process (the model loads once, as our
 * service loads its model once), pinned to one core with `taskset -c 0` as ours runs one worker
 * with one thread. Its CPU time (user + sys, from /usr/bin/time) and wall time give the total
 * real-time factor; pocketsphinx's own per-utterance "seconds CPU" log lines give per-clip times.
 *
 * Decoding settings (PocketsphinxSettings) are the knobs its JSGF (FSG) search reads: at its
 * defaults it inserts words freely over our word loop, so tune-pocketsphinx.ts tunes them on the
 * validation split (as tune-decoder.ts tunes ours) into pocketsphinx-settings.json, which eval.ts
 * reads with readTunedSettings().
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../services/core/config.ts';

const run = promisify(execFile);

export const POCKETSPHINX_MODEL = '/usr/share/pocketsphinx/model/en-us/en-us';
export const CMUDICT = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict';
const PYTHON = '/usr/bin/python3';

/**
 * The pocketsphinx_batch flags its FSG search (what -jsgf builds) reads, by flag name without the
 * dash. All are probabilities or probability scales, so all must be positive and finite. -lw scales
 * the grammar's transition log-probabilities (1 / number of words in our loop) and is the
 * lattice's acoustic scale; -wip, -pip are per word / per phone penalties; -silprob, -fillprob are
 * the <sil> and filler self-loops added at every grammar state; -beam, -pbeam, -wbeam prune.
 */
export interface PocketsphinxSettings {
  wip: number;
  lw: number;
  pip: number;
  silprob: number;
  fillprob: number;
  beam: number;
  pbeam: number;
  wbeam: number;
}

/** pocketsphinx 0.8+5prealpha's own defaults (`pocketsphinx_batch` with no arguments lists them). */
export const DEFAULT_POCKETSPHINX_SETTINGS: Readonly<PocketsphinxSettings> = Object.freeze({
  wip: 0.65,
  lw: 6.5,
  pip: 1.0,
  silprob: 0.005,
  fillprob: 1e-8,
  beam: 1e-48,
  pbeam: 1e-48,
  wbeam: 7e-29,
});

/** The defaults with `overrides` applied, each checked: a zero, negative or NaN value would make pocketsphinx misdecode silently or abort. */
export function pocketsphinxSettings(overrides: Partial<Record<keyof PocketsphinxSettings, unknown>> = {}): PocketsphinxSettings {
  const settings = { ...DEFAULT_POCKETSPHINX_SETTINGS };
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in DEFAULT_POCKETSPHINX_SETTINGS)) throw new Error(`pocketsphinx setting "${name}" is not one of ${Object.keys(DEFAULT_POCKETSPHINX_SETTINGS).join(', ')}`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new Error(`pocketsphinx setting "${name}" must be a positive finite number, not ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`);
    settings[name as keyof PocketsphinxSettings] = value;
  }
  return settings;
}

/** The command-line flags for `settings`, every one spelled out so the log says what ran. */
export function settingsFlags(settings: PocketsphinxSettings): string[] {
  return Object.entries(settings).flatMap(([name, value]) => [`-${name}`, String(value)]);
}

/** Written by tune-pocketsphinx.ts; eval.ts uses it when present. */
export const TUNED_SETTINGS_FILE = path.join(PROJECT_ROOT, 'models', 'asr', 'pocketsphinx-settings.json');

/** The tuned settings from `file` (default TUNED_SETTINGS_FILE), or undefined when it does not exist. */
export function readTunedSettings(file: string = TUNED_SETTINGS_FILE): PocketsphinxSettings | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { settings?: unknown };
  if (typeof parsed.settings !== 'object' || parsed.settings === null) throw new Error(`${file} has no "settings" object; rerun npx tsx models/asr/tune-pocketsphinx.ts DATA_DIR`);
  return pocketsphinxSettings(parsed.settings as Record<string, unknown>);
}

export interface PeerTranscript {
  /** Recognised words joined by single spaces, lower case; empty when nothing was recognised. */
  text: string;
  /** pocketsphinx's own measure of the utterance's decoding time (10 ms resolution). */
  cpuMs: number;
  wallMs: number;
}

export interface PeerRun {
  /** One per input file, in input order. */
  transcripts: PeerTranscript[];
  /** The whole process, model loading included: user + sys CPU, and wall clock. */
  processCpuMs: number;
  processWallMs: number;
  /**
   * Frames where the search lost every hypothesis ("No active HMM" in its log): the word or phone
   * penalty fell below the beam, and those utterances come back empty with no other sign. A run
   * with any is a broken setting, not a recognition result.
   */
  deadFrames: number;
}

/** The recogniser's words, from vocabulary.py itself. */
export async function readVocabulary(): Promise<string[]> {
  const { stdout } = await run(PYTHON, ['-c', 'import json, vocabulary; print(json.dumps(vocabulary.WORDS))'], { cwd: path.join(PROJECT_ROOT, 'models', 'asr') });
  const words = JSON.parse(stdout) as unknown;
  if (!Array.isArray(words) || words.length === 0 || !words.every((word) => typeof word === 'string' && /^[a-z]+$/.test(word))) {
    throw new Error(`models/asr/vocabulary.py printed no list of lower-case words: ${stdout.slice(0, 200)}`);
  }
  return words as string[];
}

/**
 * cmudict lines (`word PHONES`, variants `word(2) PHONES`, `# comments`) of the given words only.
 * A word cmudict lacks would be silently unrecognisable by the peer, so it is an error.
 */
export function restrictDictionary(cmudict: string, words: readonly string[]): string {
  const wanted = new Set(words);
  const found = new Set<string>();
  const lines: string[] = [];
  for (const raw of cmudict.split('\n')) {
    const fields = raw.split('#')[0]!.trim().split(/\s+/);
    if (fields.length < 2) continue;
    const head = fields[0]!;
    const word = head.replace(/\(\d+\)$/, '');
    if (!wanted.has(word)) continue;
    found.add(word);
    lines.push(`${head} ${fields.slice(1).join(' ')}`);
  }
  const missing = words.filter((word) => !found.has(word));
  if (missing.length > 0) throw new Error(`cmudict has no pronunciation for: ${missing.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/** Any sequence of the words, none of them favoured: the same freedom our decoder has. */
export function wordLoopGrammar(words: readonly string[]): string {
  return `#JSGF V1.0;\ngrammar vocabulary;\npublic <s> = ( ${words.join(' | ')} )* ;\n`;
}

/** `text (uttid score)` lines of pocketsphinx_batch -hyp, by utterance id. */
export function parseHypotheses(hyp: string, vocabulary: ReadonlySet<string>): Map<string, string> {
  const byId = new Map<string, string>();
  for (const line of hyp.split('\n')) {
    const match = /^(.*?)\s*\((\S+)\s+-?\d+\)\s*$/.exec(line);
    if (!match) continue;
    // Fillers (<sil>, [NOISE]) are not words of ours; the JSGF search rarely emits them, but drop them if it does.
    const words = match[1]!.toLowerCase().split(/\s+/).filter((word) => vocabulary.has(word));
    byId.set(match[2]!, words.join(' '));
  }
  return byId;
}

/** `batch.c(...): <uttid>: 2.64 seconds speech, 0.07 seconds CPU, 0.07 seconds wall` lines, by utterance id. */
export function parseUtteranceTimes(log: string): Map<string, { cpuMs: number; wallMs: number }> {
  const byId = new Map<string, { cpuMs: number; wallMs: number }>();
  for (const match of log.matchAll(/batch\.c\(\d+\): (\S+): [\d.]+ seconds speech, ([\d.]+) seconds CPU, ([\d.]+) seconds wall/g)) {
    byId.set(match[1]!, { cpuMs: Number(match[2]) * 1000, wallMs: Number(match[3]) * 1000 });
  }
  return byId;
}

/** `fsg_search.c(...): Frame N: No active HMM!!` lines: frames where pruning left nothing to search. */
export function countDeadFrames(log: string): number {
  return log.match(/No active HMM/g)?.length ?? 0;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log written)';
  }
}

/** Checks what pocketsphinx_batch is told (-adchdr 44, 16 kHz, 16-bit, mono) so it never decodes misread audio. */
function assertPlainWav(file: string): void {
  const header = readFileSync(file).subarray(0, 44);
  const ok =
    header.length === 44 &&
    header.toString('ascii', 0, 4) === 'RIFF' &&
    header.toString('ascii', 8, 12) === 'WAVE' &&
    header.readUInt16LE(20) === 1 &&
    header.readUInt16LE(22) === 1 &&
    header.readUInt32LE(24) === 16000 &&
    header.readUInt16LE(34) === 16 &&
    header.toString('ascii', 36, 40) === 'data';
  if (!ok) throw new Error(`${file}: pocketsphinx_batch is given 16 kHz 16-bit mono PCM WAV with a 44-byte header; convert it first (sox IN -r 16000 -b 16 -c 1 OUT.wav)`);
}

/**
 * Decodes every file in one pocketsphinx_batch process on core 0. `files` are WAV paths
 * (16 kHz, 16-bit, mono, 44-byte header: what synth.py and models/asr/real-speech hold).
 * `settings` defaults to pocketsphinx's own defaults.
 */
export async function recogniseAll(files: readonly string[], vocabulary: readonly string[], settings: PocketsphinxSettings = DEFAULT_POCKETSPHINX_SETTINGS): Promise<PeerRun> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'mec-pocketsphinx-'));
  try {
    const ids = files.map((file) => {
      const absolute = path.resolve(file);
      if (!absolute.endsWith('.wav') || /\s/.test(absolute)) throw new Error(`${file}: needs a .wav name without white space (pocketsphinx's control file is space-separated)`);
      assertPlainWav(absolute);
      // Control-file entries are paths below -cepdir without the extension; they come back as utterance ids.
      return absolute.slice(1, -'.wav'.length);
    });
    writeFileSync(path.join(work, 'vocabulary.dict'), restrictDictionary(readFileSync(CMUDICT, 'utf8'), vocabulary));
    writeFileSync(path.join(work, 'vocabulary.gram'), wordLoopGrammar(vocabulary));
    writeFileSync(path.join(work, 'clips.ctl'), `${ids.join('\n')}\n`);
    const [hypFile, logFile, timeFile] = ['clips.hyp', 'batch.log', 'time.txt'].map((name) => path.join(work, name)) as [string, string, string];
    // prettier-ignore
    await run('/usr/bin/time', [
      '-f', '%U %S %e', '-o', timeFile,
      'taskset', '-c', '0',
      'pocketsphinx_batch',
      '-hmm', POCKETSPHINX_MODEL,
      '-dict', path.join(work, 'vocabulary.dict'),
      '-jsgf', path.join(work, 'vocabulary.gram'),
      '-ctl', path.join(work, 'clips.ctl'), '-cepdir', '/', '-cepext', '.wav',
      '-adcin', 'yes', '-adchdr', '44', '-samprate', '16000',
      ...settingsFlags(settings),
      '-hyp', hypFile, '-logfn', logFile,
    ], { maxBuffer: 64 * 1024 * 1024 }).catch((error: unknown) => {
      throw new Error(`pocketsphinx_batch failed (${String(error)}); the end of its log:\n${logTail(logFile)}`);
    });

    const words = new Set(vocabulary);
    const hypotheses = parseHypotheses(readFileSync(hypFile, 'utf8'), words);
    const log = readFileSync(logFile, 'utf8');
    const times = parseUtteranceTimes(log);
    const [user, sys, wall] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(/\s+/).map(Number) as [number, number, number];
    const missing = ids.filter((id) => !hypotheses.has(id));
    if (missing.length > 0) throw new Error(`pocketsphinx_batch gave no hypothesis for ${missing.length} of ${ids.length} clips (first: /${missing[0]}.wav); the end of its log:\n${logTail(logFile)}`);
    return {
      transcripts: ids.map((id) => ({ text: hypotheses.get(id)!, cpuMs: times.get(id)?.cpuMs ?? Number.NaN, wallMs: times.get(id)?.wallMs ?? Number.NaN })),
      processCpuMs: (user + sys) * 1000,
      processWallMs: wall * 1000,
      deadFrames: countDeadFrames(log),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
