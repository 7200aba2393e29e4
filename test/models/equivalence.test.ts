/**
 * Proof that each converted ONNX model computes what the original TF.js model computes, on
 * real photos, plus the reproducibility of the conversion and the sha256 check of the files.
 * TF.js runs on its CPU backend in-process. The two object detectors, slow on TF.js' CPU
 * backend, are in equivalence-detectors.test.ts so that each file stays under a minute.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelCard } from '../../services/core/contracts.ts';
import { ABS_TOLERANCE, REL_TOLERANCE } from '../../models/convert/cards.ts';
import { ASTRONAUT_FACE, CATALOGUE, IMAGES_DIR, MODELS_ROOT, REPOSITORY_DIR, catalogueEntry } from '../../models/convert/catalogue.ts';
import { ConversionError } from '../../models/convert/context.ts';
import { convertGraph } from '../../models/convert/convert.ts';
import { checkEquivalence, runOnnx, type EquivalenceReport } from '../../models/convert/equivalence.ts';
import { convertEntry } from '../../models/convert/repository-writer.ts';
import { grayFace, nhwcRgb } from '../../models/convert/samples.ts';
import { verifyRepository } from '../../models/convert/verify.ts';
import type { TfGraph } from '../../models/convert/tfjs-graph.ts';

const modelPath = (name: string): string => join(REPOSITORY_DIR, name, '1', 'model.onnx');
const readCard = (name: string): ModelCard => JSON.parse(readFileSync(join(REPOSITORY_DIR, name, 'card.json'), 'utf8')) as ModelCard;
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function expectWithinTolerance(report: EquivalenceReport): void {
  for (const [name, output] of Object.entries(report.outputs)) {
    expect(output.maxAbsDiff, `${report.model} ${name} (scale ${output.maxAbsValue})`).toBeLessThanOrEqual(ABS_TOLERANCE + REL_TOLERANCE * output.maxAbsValue);
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, map: (x: number) => number = (x) => x): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(map(a[i]!) - map(b[i]!)));
  return max;
}

describe('TF.js original vs converted ONNX on real photos', () => {
  it('emotion: probabilities agree to 1e-4 on the astronaut face', async () => {
    const report = await checkEquivalence(catalogueEntry('emotion'), modelPath('emotion'), ['astronaut.png']);
    expectWithinTolerance(report);
    expect(report.outputs.Identity!.maxAbsDiff).toBeLessThanOrEqual(1e-4);
  });

  it('blazeface: logits and regressors agree, scores (sigmoid) to 1e-4 (checked on person.jpg, the last photo), on astronaut and person', async () => {
    const report = await checkEquivalence(catalogueEntry('blazeface'), modelPath('blazeface'), ['astronaut.png', 'person.jpg']);
    expectWithinTolerance(report);
    for (const name of ['Identity', 'Identity_1']) {
      expect(maxDiff(report.last.onnx[name]!.data, report.last.tfjs[name]!.data, sigmoid)).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('open batch dimension', () => {
  it('emotion and blazeface run a batch of 2 and give each image the result it gets alone', async () => {
    const faces = await grayFace(join(IMAGES_DIR, 'astronaut.png'), 64, ASTRONAUT_FACE);
    const other = await grayFace(join(IMAGES_DIR, 'person.jpg'), 64, { left: 180, top: 90, width: 60, height: 60 });
    const photos = [await nhwcRgb(join(IMAGES_DIR, 'astronaut.png'), 256, 1 / 127.5, -1), await nhwcRgb(join(IMAGES_DIR, 'person.jpg'), 256, 1 / 127.5, -1)];
    for (const [name, input, samples] of [['emotion', 'input_1', [faces, other]], ['blazeface', 'input', photos]] as const) {
      expect(readCard(name).inputs[0]!.shape[0]).toBe(-1);
      const session = await ort.InferenceSession.create(modelPath(name));
      const stacked = new Float32Array(samples[0].data.length * 2);
      stacked.set(samples[0].data as Float32Array, 0);
      stacked.set(samples[1].data as Float32Array, samples[0].data.length);
      const batch = await runOnnx(session, { [input]: { dims: [2, ...samples[0].dims.slice(1)], data: stacked } });
      for (const [index, sample] of samples.entries()) {
        const single = await runOnnx(session, { [input]: sample });
        for (const [output, tensor] of Object.entries(single)) {
          expect(batch[output]!.dims[0]).toBe(2);
          const part = batch[output]!.data.slice(index * tensor.data.length, (index + 1) * tensor.data.length);
          expect(maxDiff(part, tensor.data), `${name} ${output} image ${index}`).toBeLessThanOrEqual(1e-3);
        }
      }
      await session.release();
    }
  });
});

describe('reproducible conversion', () => {
  it('converting again in memory gives the sha256 written in every card', () => {
    for (const entry of CATALOGUE) {
      const first = convertEntry(entry);
      expect(first.sha256, entry.name).toBe(readCard(entry.name).sha256);
      expect(convertEntry(entry).sha256, entry.name).toBe(first.sha256);
    }
  });

  it('BAD CALL - an op the converter does not know fails with a ConversionError naming it', () => {
    const graph: TfGraph = {
      nodes: [
        { name: 'x', op: 'Placeholder', inputs: [], attrs: {} },
        { name: 'y', op: 'Erfinv', inputs: ['x'], attrs: {} },
      ],
      weights: new Map(),
      placeholders: [{ name: 'x', dtype: 'float32', shape: [1, 4] }],
      outputs: ['y'],
      generatedBy: '',
      convertedBy: '',
    };
    expect(() => convertGraph(graph, { name: 'bad', batchVariable: false })).toThrow(ConversionError);
    expect(() => convertGraph(graph, { name: 'bad', batchVariable: false })).toThrow(/Erfinv y: op is not supported/);
  });
});

describe('sha256 verification of the committed files', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'models-verify-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('every committed ONNX file matches its card', () => {
    const checks = verifyRepository(REPOSITORY_DIR);
    expect(checks.map((check) => check.name)).toEqual(['asr', 'blazeface', 'centernet', 'defect', 'defect-grass', 'defect-gravel', 'defect-metal', 'defect-textile', 'emotion', 'melspec', 'nanodet', 'silero_vad', 'speech_embedding']);
    expect(checks.every((check) => check.ok)).toBe(true);
  });

  it('BAD CALL - a tampered copy fails the check and npm run models:verify exits 1', () => {
    mkdirSync(join(scratch, 'emotion', '1'), { recursive: true });
    copyFileSync(join(REPOSITORY_DIR, 'emotion', 'card.json'), join(scratch, 'emotion', 'card.json'));
    const bytes = readFileSync(modelPath('emotion'));
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    writeFileSync(join(scratch, 'emotion', '1', 'model.onnx'), bytes);

    const [check] = verifyRepository(scratch);
    expect(check!.ok).toBe(false);
    expect(check!.actual).not.toBe(check!.expected);

    const cli = spawnSync(process.execPath, ['--import', 'tsx', join(MODELS_ROOT, 'convert', 'verify-sha.ts'), scratch], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('MISMATCH emotion');
  });

  it('BAD CALL - a missing ONNX file fails the check', () => {
    mkdirSync(join(scratch, 'gone'), { recursive: true });
    writeFileSync(join(scratch, 'gone', 'card.json'), JSON.stringify({ ...readCard('emotion'), name: 'gone' }));
    const check = verifyRepository(scratch).find((candidate) => candidate.name === 'gone');
    expect(check).toMatchObject({ ok: false, actual: '' });
  });
});
