/**
 * Side-by-side evaluation on helper A's held-out set: PatchCore (one graph per surface, from
 * export_scorer.py), the supervised defect CNN (models/repository/defect/1/model.onnx, when present)
 * and their combination, per surface and per defect type.
 *
 * Usage: npx tsx models/inspect/patchcore/evaluate.ts --heldout DIR --normals DIR [--banks DIR] [--cnn PATH]
 *        [--backbone PATH] [--json PATH]
 *
 * Combination: each method's image score is z-scored against its own scores on defect-free
 * VALIDATION frames of the same surface (calibration, never the test set), then averaged; its map is
 * the average of the two maps z-scored the same way (PatchCore's 32x32 map spread to 64x64).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { openSession } from './backbone.ts';
import { readFrame } from './frames.ts';
import { auroc, hottestCellHits, meanAndDeviation, type PixelBox } from './metrics.ts';

interface HeldoutEntry {
  file: string;
  surface: string;
  defect: string | null;
  boxes: PixelBox[];
}

interface MethodOutput {
  score: number;
  map: Float32Array;
  grid: number;
  milliseconds: number;
}

interface Scored {
  entry: HeldoutEntry;
  outputs: Record<string, MethodOutput>;
}

const FRAME_SIZE = 256;
const COMBINED_GRID = 64;

const { values } = parseArgs({
  options: {
    heldout: { type: 'string' },
    normals: { type: 'string' },
    cnn: { type: 'string', default: 'models/repository/defect/1/model.onnx' },
    backbone: { type: 'string', default: 'models/inspect/patchcore/backbone.onnx' },
    banks: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!values.heldout || !values.normals) throw new Error('--heldout DIR and --normals DIR are required');
const heldoutDir = values.heldout;
const normalsDir = values.normals;
const banksDir = values.banks ?? join(normalsDir, 'banks');
const manifest = JSON.parse(readFileSync(join(heldoutDir, 'manifest.json'), 'utf8')) as HeldoutEntry[];
const calibration = (JSON.parse(readFileSync(join(normalsDir, 'normals.json'), 'utf8')) as { calibration: Record<string, string[]> }).calibration;
const banks = JSON.parse(readFileSync(join(banksDir, 'banks.json'), 'utf8')) as { surfaces: Record<string, { bankSize: number }> };
const surfaces = [...new Set(manifest.map((entry) => entry.surface))];

const patchcore = new Map<string, ort.InferenceSession>();
for (const surface of surfaces) patchcore.set(surface, await openSession(join(banksDir, `patchcore-${surface}.onnx`)));
const cnn = existsSync(values.cnn!) ? await openSession(values.cnn!) : undefined;
const methods = cnn ? ['patchcore', 'cnn', 'combined'] : ['patchcore'];

async function run(session: ort.InferenceSession, path: string, mapName: string): Promise<MethodOutput> {
  const frame = await readFrame(path);
  const image = new Tensor('float32', frame.data, [1, 3, frame.height, frame.width]);
  const started = performance.now();
  const result = await session.run({ image });
  const milliseconds = performance.now() - started;
  const map = result[mapName]!;
  return { score: (result.score!.data as Float32Array)[0]!, map: map.data as Float32Array, grid: map.dims[3]!, milliseconds };
}

async function score(surface: string, path: string): Promise<Record<string, MethodOutput>> {
  const outputs: Record<string, MethodOutput> = { patchcore: await run(patchcore.get(surface)!, path, 'anomaly_map') };
  if (cnn) outputs.cnn = await run(cnn, path, 'defect_map');
  return outputs;
}

// Calibration statistics per surface and method, from defect-free validation frames.
const statistics = new Map<string, Record<string, { mean: number; deviation: number }>>();
for (const surface of surfaces) {
  const runs = [];
  for (const file of calibration[surface] ?? []) runs.push(await score(surface, join(normalsDir, file)));
  const perMethod: Record<string, { mean: number; deviation: number }> = {};
  for (const method of Object.keys(runs[0] ?? {})) perMethod[method] = meanAndDeviation(runs.map((outputs) => outputs[method]!.score));
  statistics.set(surface, perMethod);
}

function combine(surface: string, outputs: Record<string, MethodOutput>): MethodOutput {
  const stats = statistics.get(surface)!;
  const map = new Float32Array(COMBINED_GRID * COMBINED_GRID);
  for (const method of ['patchcore', 'cnn']) {
    const { map: source, grid } = outputs[method]!;
    const { mean, deviation } = stats[method]!;
    const spread = COMBINED_GRID / grid;
    for (let y = 0; y < COMBINED_GRID; y++) {
      for (let x = 0; x < COMBINED_GRID; x++) {
        const value = source[Math.floor(y / spread) * grid + Math.floor(x / spread)]!;
        map[y * COMBINED_GRID + x]! += (value - mean) / deviation / 2;
      }
    }
  }
  const zScore = (method: string): number => (outputs[method]!.score - stats[method]!.mean) / stats[method]!.deviation;
  return { score: (zScore('patchcore') + zScore('cnn')) / 2, map, grid: COMBINED_GRID, milliseconds: 0 };
}

const scored: Scored[] = [];
for (const entry of manifest) {
  const outputs = await score(entry.surface, join(heldoutDir, entry.file));
  if (cnn) outputs.combined = combine(entry.surface, outputs);
  scored.push({ entry, outputs });
}

function percent(value: number): string {
  return Number.isNaN(value) ? '-' : (100 * value).toFixed(1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Row {
  surface: string;
  defect: string;
  defective: number;
  good: number;
  auroc: Record<string, number>;
  hit: Record<string, number>;
}

function summarise(surface: string, defect: string, pool: Scored[]): Row {
  const good = pool.filter((item) => item.entry.defect === null);
  const bad = pool.filter((item) => item.entry.defect !== null && (defect === 'all' || item.entry.defect === defect));
  const chosen = [...good, ...bad];
  const row: Row = { surface, defect, defective: bad.length, good: good.length, auroc: {}, hit: {} };
  for (const method of methods) {
    row.auroc[method] = auroc(chosen.map((item) => item.outputs[method]!.score), chosen.map((item) => item.entry.defect !== null));
    const hits = bad.filter((item) => hottestCellHits(item.outputs[method]!.map, item.outputs[method]!.grid, FRAME_SIZE, item.entry.boxes));
    row.hit[method] = bad.length ? hits.length / bad.length : Number.NaN;
  }
  return row;
}

const rows: Row[] = [];
for (const surface of surfaces) {
  const pool = scored.filter((item) => item.entry.surface === surface);
  rows.push(summarise(surface, 'all', pool));
  const defects = [...new Set(pool.map((item) => item.entry.defect).filter((defect): defect is string => defect !== null))].sort();
  for (const defect of defects) rows.push(summarise(surface, defect, pool));
}

const header = ['surface', 'defect', 'bad/good', ...methods.map((m) => `AUROC ${m}`), ...methods.map((m) => `hit ${m}`)];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of rows) {
  const cells = [row.surface, row.defect, `${row.defective}/${row.good}`, ...methods.map((m) => percent(row.auroc[m]!)), ...methods.map((m) => percent(row.hit[m]!))];
  console.log(`| ${cells.join(' | ')} |`);
}
const mean = (method: string, field: 'auroc' | 'hit'): number => {
  const all = rows.filter((row) => row.defect === 'all').map((row) => row[field][method]!);
  return all.reduce((sum, value) => sum + value, 0) / all.length;
};
console.log(`| mean | all | - | ${methods.map((m) => percent(mean(m, 'auroc'))).join(' | ')} | ${methods.map((m) => percent(mean(m, 'hit'))).join(' | ')} |`);

// Times: median ms per frame on one thread (scorer graph = backbone + nearest-neighbour search).
const backbone = await openSession(values.backbone!);
const backboneTimes: number[] = [];
for (const item of scored.slice(0, 100)) {
  const frame = await readFrame(join(heldoutDir, item.entry.file));
  const started = performance.now();
  await backbone.run({ image: new Tensor('float32', frame.data, [1, 3, frame.height, frame.width]) });
  backboneTimes.push(performance.now() - started);
}
console.log(`\nbackbone only: ${median(backboneTimes).toFixed(1)} ms/frame (median, 1 thread)`);
console.log('| surface | bank size | PatchCore ms/frame | CNN ms/frame |\n|---|---|---|---|');
for (const surface of surfaces) {
  const pool = scored.filter((item) => item.entry.surface === surface);
  const time = (method: string): string => (methods.includes(method) ? median(pool.map((item) => item.outputs[method]!.milliseconds)).toFixed(1) : '-');
  console.log(`| ${surface} | ${banks.surfaces[surface]?.bankSize ?? '-'} | ${time('patchcore')} | ${time('cnn')} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ rows, statistics: Object.fromEntries(statistics) }, null, 1));
