/**
 * The decode rules written in each card's postprocessing text, applied to the ONNX outputs
 * on real photos: if a card misdescribes its model (anchor order, box units, label order),
 * these fail. ONNX only (fast); equivalence to TF.js is equivalence.test.ts.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASTRONAUT_FACE, COCO_LABELS, EMOTION_LABELS, IMAGES_DIR, REPOSITORY_DIR } from '../../models/convert/catalogue.ts';
import { runOnnx } from '../../models/convert/equivalence.ts';
import { grayFace, nchwRgbUnit, nhwcRgb } from '../../models/convert/samples.ts';

type Box = [number, number, number, number];
interface Found {
  label: string;
  score: number;
  box: Box;
}

const sessions: Record<string, ort.InferenceSession> = {};
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const area = (box: Box): number => (box[2] - box[0]) * (box[3] - box[1]);
  return (w * h) / (area(a) + area(b) - w * h);
}

/** Greedy NMS over all labels, best score first. */
function suppress(found: Found[], threshold: number): Found[] {
  const kept: Found[] = [];
  for (const candidate of [...found].sort((a, b) => b.score - a.score)) {
    if (kept.every((other) => iou(other.box, candidate.box) < threshold)) kept.push(candidate);
  }
  return kept;
}

async function imageSize(file: string): Promise<{ width: number; height: number }> {
  const { width, height } = await sharp(join(IMAGES_DIR, file)).metadata();
  return { width: width!, height: height! };
}

beforeAll(async () => {
  for (const name of ['emotion', 'blazeface', 'centernet', 'nanodet']) sessions[name] = await ort.InferenceSession.create(join(REPOSITORY_DIR, name, '1', 'model.onnx'));
});
afterAll(async () => {
  for (const session of Object.values(sessions)) await session.release();
});

describe('card decode rules on real photos', () => {
  it('blazeface: one face on the astronaut, where the emotion crop is taken', async () => {
    const out = await runOnnx(sessions.blazeface!, { input: await nhwcRgb(join(IMAGES_DIR, 'astronaut.png'), 256, 1 / 127.5, -1) });
    const found: Found[] = [];
    for (const [scores, boxes, grid, stride, perCell] of [['Identity', 'Identity_2', 16, 16, 2], ['Identity_1', 'Identity_3', 8, 32, 6]] as const) {
      const logits = out[scores]!.data;
      const regressors = out[boxes]!.data;
      for (let index = 0; index < logits.length; index++) {
        const score = sigmoid(logits[index]!);
        if (score < 0.5) continue;
        const cell = Math.floor(index / perCell);
        const ax = ((cell % grid) + 0.5) * stride;
        const ay = (Math.floor(cell / grid) + 0.5) * stride;
        const r = regressors.subarray(index * 16, index * 16 + 16);
        const [cx, cy, w, h] = [ax + r[0]!, ay + r[1]!, r[2]!, r[3]!];
        // 256-input pixels -> the 512x512 photo.
        found.push({ label: 'face', score, box: [(cx - w / 2) * 2, (cy - h / 2) * 2, (cx + w / 2) * 2, (cy + h / 2) * 2] });
      }
    }
    const faces = suppress(found, 0.3);
    expect(faces).toHaveLength(1);
    const { left, top, width, height } = ASTRONAUT_FACE;
    expect(iou(faces[0]!.box, [left, top, left + width, top + height])).toBeGreaterThan(0.8);
  });

  it('emotion: a probability row per face over the 7 labels; the smiling astronaut is happy', async () => {
    const out = await runOnnx(sessions.emotion!, { input_1: await grayFace(join(IMAGES_DIR, 'astronaut.png'), 64, ASTRONAUT_FACE) });
    const probabilities = Array.from(out.Identity!.data);
    expect(probabilities).toHaveLength(EMOTION_LABELS.length);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(EMOTION_LABELS[probabilities.indexOf(Math.max(...probabilities))]).toBe('happy');
  });

  it('centernet: dog.jpg gives a dog, a bicycle and a vehicle where they are', async () => {
    const { width, height } = await imageSize('dog.jpg');
    const out = await runOnnx(sessions.centernet!, { 'tower_0/images': await nhwcRgb(join(IMAGES_DIR, 'dog.jpg'), 512, 1, 0) });
    const rows = out['tower_0/detections']!.data;
    const found: Found[] = [];
    for (let row = 0; row < 100; row++) {
      const [x1, y1, x2, y2, score, cls] = Array.from(rows.subarray(row * 6, row * 6 + 6)) as [number, number, number, number, number, number];
      if (row > 0) expect(score).toBeLessThanOrEqual(rows[(row - 1) * 6 + 4]!);
      if (score < 0.3) continue;
      found.push({ label: COCO_LABELS[cls]!, score, box: [(x1 / 512) * width, (y1 / 512) * height, (x2 / 512) * width, (y2 / 512) * height] });
    }
    const kept = suppress(found, 0.4);
    const labels = kept.map((item) => item.label);
    expect(labels).toEqual(expect.arrayContaining(['dog', 'bicycle']));
    expect(labels.some((label) => label === 'car' || label === 'truck')).toBe(true);
    // The dog sits in the lower left of the photo (about x 130-310, y 220-540 of 768x576).
    const dog = kept.find((item) => item.label === 'dog')!;
    expect(iou(dog.box, [130, 220, 310, 540])).toBeGreaterThan(0.5);
  });

  it('nanodet: dog.jpg gives a bicycle and a dog with the GFL box decode', async () => {
    const { width, height } = await imageSize('dog.jpg');
    const out = await runOnnx(sessions.nanodet!, { input_1: await nchwRgbUnit(join(IMAGES_DIR, 'dog.jpg'), 416) });
    const found: Found[] = [];
    for (const [scoresName, boxesName, stride] of [['Identity', 'Identity_3', 8], ['Identity_1', 'Identity_4', 16], ['Identity_2', 'Identity_5', 32]] as const) {
      const scores = out[scoresName]!.data;
      const distributions = out[boxesName]!.data;
      const grid = 416 / stride;
      for (let cell = 0; cell < scores.length / 80; cell++) {
        for (let cls = 0; cls < 80; cls++) {
          const score = scores[cell * 80 + cls]!;
          if (score < 0.4) continue;
          const [left, top, right, bottom] = [0, 1, 2, 3].map((side) => {
            const logits = Array.from(distributions.subarray(cell * 44 + side * 11, cell * 44 + side * 11 + 11));
            const max = Math.max(...logits);
            const weights = logits.map((logit) => Math.exp(logit - max));
            const total = weights.reduce((a, b) => a + b, 0);
            return (weights.reduce((sum, weight, bin) => sum + weight * bin, 0) / total) * stride;
          }) as [number, number, number, number];
          const cx = ((cell % grid) + 0.5) * stride;
          const cy = (Math.floor(cell / grid) + 0.5) * stride;
          const sx = width / 416;
          const sy = height / 416;
          found.push({ label: COCO_LABELS[cls]!, score, box: [(cx - left) * sx, (cy - top) * sy, (cx + right) * sx, (cy + bottom) * sy] });
        }
      }
    }
    const kept = suppress(found, 0.4);
    expect(kept.map((item) => item.label)).toEqual(expect.arrayContaining(['bicycle', 'dog']));
    const dog = kept.find((item) => item.label === 'dog')!;
    expect(iou(dog.box, [130, 220, 310, 540])).toBeGreaterThan(0.5);
  });
});
