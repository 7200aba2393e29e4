/**
 * npm run models:convert [-- <name>...] [--verify]
 * Converts the TF.js originals in models/tfjs/ to models/repository/<name>/1/model.onnx and
 * writes each card. --verify also runs the equivalence check (TF.js CPU vs onnxruntime on the
 * test photos) and records its figures in the card; it takes a minute on two cores.
 */
import { ABS_TOLERANCE, REL_TOLERANCE, type CardVerification } from './cards.ts';
import { CATALOGUE, catalogueEntry } from './catalogue.ts';
import { checkEquivalence } from './equivalence.ts';
import { convertEntry, writeModel } from './repository-writer.ts';
import { startProgress } from '../../services/cli/progress.ts';

const args = process.argv.slice(2);
const verify = args.includes('--verify');
const names = args.filter((arg) => !arg.startsWith('--'));
const entries = names.length ? names.map(catalogueEntry) : [...CATALOGUE];

// Steps per model: convert, (verify,) write the model and its card.
const stepsPerModel = verify ? 3 : 2;
const progress = startProgress({ label: 'models:convert', total: entries.length * stepsPerModel, unit: 'steps' });
let failed = false;
for (const entry of entries) {
  const started = performance.now();
  progress.tick(0, `${entry.name}: converting`);
  const converted = convertEntry(entry);
  progress.tick(1, verify ? `${entry.name}: checking TF.js vs onnxruntime` : `${entry.name}: writing`);
  let verification: CardVerification | undefined;
  if (verify) {
    const report = await checkEquivalence(entry, converted.bytes);
    const maxAbsDiff = Object.fromEntries(Object.entries(report.outputs).map(([name, output]) => [name, output.maxAbsDiff]));
    const maxAbsValue = Object.fromEntries(Object.entries(report.outputs).map(([name, output]) => [name, output.maxAbsValue]));
    verification = {
      images: report.images.map((image) => `test/fixtures/images/${image}`),
      reference: 'original TF.js graph model, @tensorflow/tfjs-converter + tfjs-backend-cpu 4.22.0, vs onnxruntime-node 1.30.0 (CPU)',
      tolerance: `|onnx - tfjs| <= ${ABS_TOLERANCE} + ${REL_TOLERANCE} * max|tfjs output|, per output`,
      maxAbsDiff,
      maxAbsValue,
      date: new Date().toISOString().slice(0, 10),
    };
    for (const [name, output] of Object.entries(report.outputs)) {
      if (output.maxAbsDiff > ABS_TOLERANCE + REL_TOLERANCE * output.maxAbsValue) {
        failed = true;
        progress.log(`${entry.name}: output ${name} differs by ${output.maxAbsDiff} (scale ${output.maxAbsValue})`);
      }
    }
    progress.tick(1, `${entry.name}: writing`);
  }
  const card = writeModel(entry, converted, verification);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  progress.tick();
  progress.log(`${entry.name.padEnd(10)} ${(converted.bytes.length / 1e6).toFixed(2).padStart(6)} MB  sha256 ${card.sha256}  ${seconds} s${card.verification ? '' : '  (no verification figures: run with --verify)'}`, process.stdout);
}
progress.finish(failed ? 'some outputs differ (above)' : undefined);
process.exit(failed ? 1 : 0);
