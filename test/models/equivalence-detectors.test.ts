/**
 * Proof of equivalence for the two object detectors (the slow half of equivalence.test.ts,
 * split off so each file stays under a minute on two busy cores): the original TF.js model
 * (CPU backend) and the converted ONNX model on the same real photo.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ABS_TOLERANCE, REL_TOLERANCE } from '../../models/convert/cards.ts';
import { REPOSITORY_DIR, catalogueEntry } from '../../models/convert/catalogue.ts';
import { checkEquivalence, type EquivalenceReport } from '../../models/convert/equivalence.ts';

/** TF.js' CPU backend takes 8-20 s per photo here, more when the machine is busy: a bounded but roomy limit. */
const DETECTOR_TIMEOUT_MS = 120_000;

const modelPath = (name: string): string => join(REPOSITORY_DIR, name, '1', 'model.onnx');

function expectWithinTolerance(report: EquivalenceReport): void {
  for (const [name, output] of Object.entries(report.outputs)) {
    expect(output.maxAbsDiff, `${report.model} ${name} (scale ${output.maxAbsValue})`).toBeLessThanOrEqual(ABS_TOLERANCE + REL_TOLERANCE * output.maxAbsValue);
  }
}

describe('TF.js original vs converted ONNX: object detectors on dog.jpg', () => {
  it('centernet: heatmap to 1e-4, detections in the same order with the same classes, on dog.jpg', async () => {
    const report = await checkEquivalence(catalogueEntry('centernet'), modelPath('centernet'), ['dog.jpg']);
    expectWithinTolerance(report);
    expect(report.outputs['tower_0/keypoints']!.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const onnx = report.last.onnx['tower_0/detections']!.data;
    const tfjs = report.last.tfjs['tower_0/detections']!.data;
    // Top-k over near-equal scores could in principle order ties differently; on this photo
    // no two of the 100 scores are that close, so rows must match one to one.
    for (let row = 0; row < 100; row++) {
      expect(onnx[row * 6 + 5], `class of row ${row}`).toBe(tfjs[row * 6 + 5]);
      expect(Math.abs(onnx[row * 6 + 4]! - tfjs[row * 6 + 4]!), `score of row ${row}`).toBeLessThanOrEqual(1e-4);
    }
  }, DETECTOR_TIMEOUT_MS);

  it('nanodet: scores to 1e-4 and box distributions within tolerance, on dog.jpg', async () => {
    const report = await checkEquivalence(catalogueEntry('nanodet'), modelPath('nanodet'), ['dog.jpg']);
    expectWithinTolerance(report);
    for (const name of ['Identity', 'Identity_1', 'Identity_2', 'Identity_3', 'Identity_4', 'Identity_5']) {
      expect(report.outputs[name]!.maxAbsDiff, name).toBeLessThanOrEqual(1e-4);
    }
  }, DETECTOR_TIMEOUT_MS);
});
