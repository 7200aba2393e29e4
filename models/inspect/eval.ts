/**
 * `npm run eval:inspect`: the served defect model, through the service's own inspection task
 * (decode, tiling, model, stitching, regions: what a camera gets), on the held-out set that
 * models/inspect/heldout.py renders from seeds and texture pixels never used in training or
 * threshold selection.
 *
 * Prints, per surface and per defect type: AUROC (defective vs defect-free frames of the surface),
 * accuracy at the card's threshold, false-alarm rate, detection rate, and localisation hit rate
 * (the frame is flagged and a reported region overlaps a true defect box).
 *
 *   npm run eval:inspect [-- --per-surface 200 --out DIR --json FILE]
 * Needs Debian's python3 with numpy and PIL (apt-get install python3-numpy python3-pil) for the renderer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { Box, InspectResult } from '../../services/core/contracts.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { printTable } from '../../bench/lib/table.ts';
import { median } from '../../bench/lib/stats.ts';
import { auroc, overlaps } from './scoring.ts';

export interface HeldOutFrame {
  file: string;
  surface: string;
  defect: string | null;
  boxes: Box[];
  mask: string | null;
}

interface Outcome {
  frame: HeldOutFrame;
  result: InspectResult;
}

const { values: args } = parseArgs({
  options: {
    'per-surface': { type: 'string', default: '200' },
    out: { type: 'string' },
    json: { type: 'string' },
    model: { type: 'string', default: 'defect' },
  },
});

function renderHeldOut(dir: string, perSurface: number): HeldOutFrame[] {
  execFileSync('/usr/bin/python3', [path.join(PROJECT_ROOT, 'models/inspect/heldout.py'), '--out', dir, '--per-surface', String(perSurface)], { stdio: ['ignore', 'inherit', 'inherit'] });
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as HeldOutFrame[];
}

function summarise(outcomes: readonly Outcome[], positives: (outcome: Outcome) => boolean) {
  const good = outcomes.filter((outcome) => outcome.frame.defect === null);
  const bad = outcomes.filter((outcome) => outcome.frame.defect !== null && positives(outcome));
  const flaggedGood = good.filter((outcome) => outcome.result.defective).length;
  const detected = bad.filter((outcome) => outcome.result.defective);
  const localised = detected.filter((outcome) => outcome.result.regions.some((region) => outcome.frame.boxes.some((box) => overlaps(region.box, box))));
  const correct = good.length - flaggedGood + detected.length;
  return {
    frames: good.length + bad.length,
    auroc: auroc(
      bad.map((outcome) => outcome.result.score),
      good.map((outcome) => outcome.result.score),
    ),
    accuracy: correct / Math.max(1, good.length + bad.length),
    falseAlarmRate: flaggedGood / Math.max(1, good.length),
    detectionRate: detected.length / Math.max(1, bad.length),
    localisation: localised.length / Math.max(1, bad.length),
  };
}

async function main(): Promise<void> {
  const perSurface = Number(args['per-surface']);
  const dir = args.out ?? mkdtempSync(path.join(os.tmpdir(), 'mec-heldout-'));
  const frames = renderHeldOut(dir, perSurface);

  const model = args.model!;
  const config = loadConfig({ runtime: { workers: 2, intraOpThreads: 1 }, models: { load: [model] }, log: { level: 'warn' } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: [model] });
  const inspection = createInspectionTasks({ repository, config });
  const outcomes: Outcome[] = [];
  try {
    // Two in flight: one per worker, as the service runs.
    let next = 0;
    await Promise.all(
      [0, 1].map(async () => {
        while (next < frames.length) {
          const frame = frames[next++]!;
          const result = await inspection.inspect(readFileSync(path.join(dir, frame.file)), { surface: frame.surface });
          outcomes.push({ frame, result });
        }
      }),
    );
  } finally {
    await repository.close();
    if (args.out === undefined) rmSync(dir, { recursive: true, force: true });
  }

  const surfaces = [...new Set(frames.map((frame) => frame.surface))].sort();
  const types = [...new Set(frames.flatMap((frame) => (frame.defect === null ? [] : [frame.defect])))].sort();
  const columns = ['surface', 'defect', 'frames', 'AUROC', 'accuracy', 'false alarms', 'detected', 'localised'];
  const rows: (string | number)[][] = [];
  const report: Record<string, unknown>[] = [];
  const add = (surface: string, defect: string, subset: readonly Outcome[], positives: (outcome: Outcome) => boolean) => {
    const summary = summarise(subset, positives);
    report.push({ surface, defect, ...summary });
    rows.push([surface, defect, summary.frames, summary.auroc, summary.accuracy, summary.falseAlarmRate, summary.detectionRate, summary.localisation].map((cell) => (typeof cell === 'number' && !Number.isInteger(cell) ? Number(cell.toFixed(4)) : cell)));
  };
  for (const surface of [...surfaces, 'all']) {
    const subset = surface === 'all' ? outcomes : outcomes.filter((outcome) => outcome.frame.surface === surface);
    add(surface, 'any', subset, () => true);
    for (const type of types) add(surface, type, subset, (outcome) => outcome.frame.defect === type);
  }
  printTable(`Defect inspection, held-out set (${outcomes.length} frames, model ${model}, via the service's inspect task)`, columns, rows);
  const inferMs = median(outcomes.map((outcome) => outcome.result.timings.infer_ms));
  const totalMs = median(outcomes.map((outcome) => outcome.result.timings.total_ms));
  process.stdout.write(`median per frame: infer ${inferMs.toFixed(2)} ms, total ${totalMs.toFixed(2)} ms (2 workers x 1 thread, 2 frames in flight)\n`);
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ model, frames: outcomes.length, rows: report, medianInferMs: inferMs, medianTotalMs: totalMs }, null, 2)}\n`);
}

await main();
