/**
 * `npm run eval:inspect`: the served defect model, through the service's own inspection task
 * (decode, tiling, model, stitching, regions: what a camera gets), on the held-out set that
 * models/inspect/heldout.py renders from seeds and texture pixels never used in training or
 * threshold selection.
 *
 * Prints, per surface and per defect type: AUROC (defective vs defect-free frames of the surface),
 * accuracy at the card's threshold, false-alarm rate, detection rate, and localisation hit rate
 * (the frame is flagged and a reported region overlaps a true defect box), of all defective frames
 * and of the flagged ones (how well a detection points at its defect, apart from how often one is made).
 *
 * A second table does the same on frames drawn by ANOTHER renderer: the camera simulator's
 * (services/client/camera: SVG defects composited by sharp on the same test textures). The model
 * never saw that renderer's defects; this is the honest check of what it learnt.
 *
 * A third table is the per-camera calibration (teach-in, services/streams/calibration.ts) as an
 * operator would run it: each surface's threshold from its first --teach-in defect-free held-out
 * frames, false alarms and detection measured on the surface's other frames, beside the card's.
 *
 *   npm run eval:inspect [-- --per-surface 200 --simulator 100 --teach-in 25 --out DIR --json FILE]
 * Needs Debian's python3 with numpy and PIL (apt-get install python3-numpy python3-pil) for the renderer.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFECT_MODELS, loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import type { Box, InspectionTasks, InspectResult } from '../../services/core/contracts.ts';
import { createRepository } from '../../services/registry/index.ts';
import { createRuntime } from '../../services/runtime/index.ts';
import { createInspectionTasks } from '../../services/tasks/inspection/index.ts';
import { loadTexture, planFrame, renderFrame } from '../../services/client/camera/frames.ts';
import { mulberry32, seedFromString } from '../../services/client/camera/random.ts';
import { printTable } from '../../bench/lib/table.ts';
import { median } from '../../bench/lib/stats.ts';
import { boxesOverlap } from '../../services/core/box.ts';
import { calibratedThreshold } from '../../services/streams/calibration.ts';
import { auroc } from './scoring.ts';
import { startProgress, type Progress } from '../../services/cli/progress.ts';

export interface HeldOutFrame {
  file: string;
  surface: string;
  defect: string | null;
  boxes: Box[];
  mask: string | null;
}

/** A frame to score: its bytes and what is really in it. */
interface LabelledFrame {
  bytes: Buffer;
  surface: string;
  defect: string | null;
  boxes: Box[];
}

interface Outcome {
  frame: LabelledFrame;
  result: InspectResult;
}

const { values: args } = parseArgs({
  options: {
    'per-surface': { type: 'string', default: '200' },
    simulator: { type: 'string', default: '100' },
    'teach-in': { type: 'string', default: '25' },
    out: { type: 'string' },
    json: { type: 'string' },
    // The all-surface model and the specialists: a surface is served by the model claiming the
    // fewest surfaces (services/tasks/inspection/surfaces.ts); --models defect alone measures the
    // all-surface model on the same frames.
    models: { type: 'string', default: DEFECT_MODELS.join(',') },
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
  const localised = detected.filter((outcome) => outcome.result.regions.some((region) => outcome.frame.boxes.some((box) => boxesOverlap(region.box, box))));
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
    // Of the frames flagged, how many point at the defect: localisation apart from detection.
    localisationOfDetected: detected.length === 0 ? Number.NaN : localised.length / detected.length,
  };
}

/** The simulator's renderer: frames of each surface, half with its own drawn defects (the type of the first one names the frame). */
async function simulatorFrames(surfaces: readonly string[], perSurface: number): Promise<LabelledFrame[]> {
  const frames: LabelledFrame[] = [];
  const progress = startProgress({ label: 'eval:inspect simulator frames', total: surfaces.length * perSurface, unit: 'frames' });
  for (const surface of surfaces) {
    const texture = await loadTexture(surface, 256);
    const random = mulberry32(seedFromString(`eval:${surface}`));
    for (let index = 0; index < perSurface; index += 1) {
      const plan = planFrame(random, texture, { size: 256, defectRate: 0.5 });
      const bytes = await renderFrame(texture, plan, { format: 'jpeg', quality: 92 });
      frames.push({ bytes, surface, defect: plan.defects[0]?.type ?? null, boxes: plan.defects.map((defect) => defect.box) });
      progress.tick(1, surface);
    }
  }
  progress.finish();
  return frames;
}

async function inspectAll(inspection: InspectionTasks, frames: readonly LabelledFrame[], progress: Progress, set: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  // Two in flight: one per worker, as the service runs.
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < frames.length) {
        const frame = frames[next++]!;
        outcomes.push({ frame, result: await inspection.inspect(frame.bytes, { surface: frame.surface }) });
        progress.tick(1, `${set}, ${frame.surface}`);
      }
    }),
  );
  return outcomes;
}

function report(title: string, outcomes: readonly Outcome[]): Record<string, unknown>[] {
  const surfaces = [...new Set(outcomes.map((outcome) => outcome.frame.surface))].sort();
  const types = [...new Set(outcomes.flatMap((outcome) => (outcome.frame.defect === null ? [] : [outcome.frame.defect])))].sort();
  const columns = ['surface', 'defect', 'frames', 'AUROC', 'accuracy', 'false alarms', 'detected', 'localised', 'localised of detected'];
  const rows: (string | number)[][] = [];
  const summaries: Record<string, unknown>[] = [];
  const add = (surface: string, defect: string, subset: readonly Outcome[], positives: (outcome: Outcome) => boolean) => {
    const summary = summarise(subset, positives);
    summaries.push({ surface, defect, ...summary });
    rows.push([surface, defect, summary.frames, summary.auroc, summary.accuracy, summary.falseAlarmRate, summary.detectionRate, summary.localisation, summary.localisationOfDetected].map((cell) => (typeof cell === 'number' && !Number.isInteger(cell) ? Number(cell.toFixed(4)) : cell)));
  };
  for (const surface of [...surfaces, 'all']) {
    const subset = surface === 'all' ? outcomes : outcomes.filter((outcome) => outcome.frame.surface === surface);
    add(surface, 'any', subset, () => true);
    for (const type of types) add(surface, type, subset, (outcome) => outcome.frame.defect === type);
  }
  printTable(title, columns, rows);
  return summaries;
}

/**
 * Teach-in as a camera would do it: per surface, the threshold from the first `teachFrames`
 * defect-free frames (in the held-out set's order) at a 1 % rate; the other frames measure it.
 */
function teachInReport(frames: readonly LabelledFrame[], outcomes: readonly Outcome[], teachFrames: number): Record<string, unknown>[] {
  const resultOf = new Map(outcomes.map((outcome) => [outcome.frame, outcome.result]));
  const rows: Record<string, unknown>[] = [];
  for (const surface of [...new Set(frames.map((frame) => frame.surface))].sort()) {
    const ofSurface = frames.filter((frame) => frame.surface === surface);
    const taught = ofSurface.filter((frame) => frame.defect === null).slice(0, teachFrames);
    const rest = ofSurface.filter((frame) => !taught.includes(frame));
    const good = rest.filter((frame) => frame.defect === null).map((frame) => resultOf.get(frame)!);
    const bad = rest.filter((frame) => frame.defect !== null).map((frame) => resultOf.get(frame)!);
    const threshold = calibratedThreshold(taught.map((frame) => resultOf.get(frame)!.score), 0.01);
    const share = (results: readonly InspectResult[], flagged: (result: InspectResult) => boolean) => results.filter(flagged).length / Math.max(1, results.length);
    rows.push({
      surface,
      teachFrames: taught.length,
      cardThreshold: good[0]?.threshold ?? Number.NaN,
      threshold,
      cardFalseAlarms: share(good, (result) => result.defective),
      falseAlarms: share(good, (result) => result.score >= threshold),
      cardDetected: share(bad, (result) => result.defective),
      detected: share(bad, (result) => result.score >= threshold),
    });
  }
  const fixed = (value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Number(value.toFixed(4)) : (value as string | number));
  printTable(
    `Per-camera calibration (teach-in): threshold from the first ${teachFrames} defect-free frames of each surface (1 %), measured on its other frames`,
    ['surface', 'teach-in frames', 'card threshold', 'taught threshold', 'false alarms (card)', 'false alarms (taught)', 'detected (card)', 'detected (taught)'],
    rows.map((row) => [row.surface, row.teachFrames, row.cardThreshold, row.threshold, row.cardFalseAlarms, row.falseAlarms, row.cardDetected, row.detected].map(fixed)),
  );
  return rows;
}

async function main(): Promise<void> {
  const perSurface = Number(args['per-surface']);
  const dir = args.out ?? mkdtempSync(path.join(os.tmpdir(), 'mec-heldout-'));
  const heldOut = renderHeldOut(dir, perSurface).map((frame) => ({ ...frame, bytes: readFileSync(path.join(dir, frame.file)) }));
  if (args.out === undefined) rmSync(dir, { recursive: true, force: true });
  const surfaces = [...new Set(heldOut.map((frame) => frame.surface))].sort();
  const simulated = await simulatorFrames(surfaces, Number(args.simulator));

  const models = args.models!.split(',');
  const model = models.join(', ');
  const config = loadConfig({ runtime: { workers: 2, intraOpThreads: 1 }, models: { load: models }, log: { level: 'warn' } });
  const runtime = createRuntime(config);
  const repository = await createRepository({ config, runtime, load: models });
  const inspection = createInspectionTasks({ repository, config });
  let heldOutOutcomes: Outcome[];
  let simulatedOutcomes: Outcome[];
  const progress = startProgress({ label: `eval:inspect ${model}`, total: heldOut.length + simulated.length, unit: 'frames' });
  try {
    heldOutOutcomes = await inspectAll(inspection, heldOut, progress, 'held-out');
    simulatedOutcomes = await inspectAll(inspection, simulated, progress, 'simulator');
  } finally {
    progress.finish();
    await repository.close();
  }

  const servedBy = new Map(heldOutOutcomes.map((outcome) => [outcome.frame.surface, outcome.result.model]));
  process.stdout.write(`surfaces served by: ${[...servedBy].sort().map(([surface, by]) => `${surface} ${by}`).join(', ')}\n`);
  const heldOutRows = report(`Defect inspection, held-out set (${heldOutOutcomes.length} frames of models/inspect/heldout.py, model ${model}, via the service's inspect task)`, heldOutOutcomes);
  const simulatedRows = simulatedOutcomes.length === 0 ? [] : report(`Another renderer: the camera simulator's defects on the test textures (${simulatedOutcomes.length} frames)`, simulatedOutcomes);
  const teachInRows = teachInReport(heldOut, heldOutOutcomes, Number(args['teach-in']));
  const inferMs = median(heldOutOutcomes.map((outcome) => outcome.result.timings.infer_ms));
  const totalMs = median(heldOutOutcomes.map((outcome) => outcome.result.timings.total_ms));
  process.stdout.write(`median per frame: infer ${inferMs.toFixed(2)} ms, total ${totalMs.toFixed(2)} ms (2 workers x 1 thread, 2 frames in flight)\n`);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify({ model, heldOut: heldOutRows, simulator: simulatedRows, teachIn: teachInRows, medianInferMs: inferMs, medianTotalMs: totalMs }, null, 2)}\n`);
  }
}

await main();
