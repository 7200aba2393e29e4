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

const args = process.argv.slice(2);
const verify = args.includes('--verify');
const names = args.filter((arg) => !arg.startsWith('--'));
const entries = names.length ? names.map(catalogueEntry) : [...CATALOGUE];

let failed = false;
for (const entry of entries) {
  const started = performance.now();
  const converted = convertEntry(entry);
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
        console.error(`${entry.name}: output ${name} differs by ${output.maxAbsDiff} (scale ${output.maxAbsValue})`);
      }
    }
  }
  const card = writeModel(entry, converted, verification);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${entry.name.padEnd(10)} ${(converted.bytes.length / 1e6).toFixed(2).padStart(6)} MB  sha256 ${card.sha256}  ${seconds} s${card.verification ? '' : '  (no verification figures: run with --verify)'}`);
}
process.exit(failed ? 1 : 0);
