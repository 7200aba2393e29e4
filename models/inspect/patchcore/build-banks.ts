/**
 * Builds one PatchCore memory bank per surface from defect-free training frames.
 *
 * Usage: npx tsx models/inspect/patchcore/build-banks.ts --normals DIR [--backbone PATH] [--fraction 0.1]
 *        [--frames N] [--coreset-dims 32] [--banks OUT]
 * Reads DIR/normals.json (render_normals.py), writes OUT (default DIR/banks)/<surface>.f32 (FP32
 * [bankSize, dims], little-endian) and OUT/banks.json (sizes and timings), which export_scorer.py turns
 * into graphs. --frames uses only the first N bank frames of each surface.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSession, patchFeatures } from './backbone.ts';
import { greedyCoreset } from './coreset.ts';
import { readFrame } from './frames.ts';

interface NormalsListing {
  bank: Record<string, string[]>;
}

const { values } = parseArgs({
  options: {
    normals: { type: 'string' },
    backbone: { type: 'string', default: 'models/inspect/patchcore/backbone.onnx' },
    fraction: { type: 'string', default: '0.1' },
    frames: { type: 'string' },
    'coreset-dims': { type: 'string', default: '32' },
    banks: { type: 'string' },
  },
});
if (!values.normals) throw new Error('--normals DIR is required (written by render_normals.py)');
const normalsDir = values.normals;
const fraction = Number(values.fraction);
const listing = JSON.parse(readFileSync(join(normalsDir, 'normals.json'), 'utf8')) as NormalsListing;
const session = await openSession(values.backbone!);
const outDir = values.banks ?? join(normalsDir, 'banks');
const frameLimit = values.frames ? Number(values.frames) : Infinity;
const coresetDims = Number(values['coreset-dims']);
mkdirSync(outDir, { recursive: true });

const summary: Record<string, unknown> = {};
let dims = 0;
let grid = 0;
for (const [surface, allFiles] of Object.entries(listing.bank)) {
  const files = allFiles.slice(0, frameLimit);
  const started = performance.now();
  const perFrame: Float32Array[] = [];
  for (const file of files) {
    const features = await patchFeatures(session, await readFrame(join(normalsDir, file)));
    perFrame.push(features.rows);
    dims = features.dims;
    grid = features.grid;
  }
  const patches = perFrame.length * grid * grid;
  const all = new Float32Array(patches * dims);
  perFrame.forEach((rows, index) => all.set(rows, index * rows.length));
  const extracted = performance.now();
  const chosen = greedyCoreset(all, patches, dims, Math.max(1, Math.round(patches * fraction)), coresetDims);
  const bank = new Float32Array(chosen.length * dims);
  chosen.forEach((row, index) => bank.set(all.subarray(row * dims, (row + 1) * dims), index * dims));
  writeFileSync(join(outDir, `${surface}.f32`), Buffer.from(bank.buffer));
  const seconds = { features: (extracted - started) / 1000, coreset: (performance.now() - extracted) / 1000 };
  summary[surface] = { frames: files.length, patches, bankSize: chosen.length, seconds };
  console.log(`${surface}: ${files.length} frames, ${patches} patches -> bank ${chosen.length} x ${dims} ` +
    `(features ${seconds.features.toFixed(1)} s, coreset ${seconds.coreset.toFixed(1)} s)`);
}
writeFileSync(join(outDir, 'banks.json'), JSON.stringify({ dims, grid, fraction, coresetDims, backbone: values.backbone, surfaces: summary }, null, 1));
