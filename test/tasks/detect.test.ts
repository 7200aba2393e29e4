/**
 * Object detection on real photos with CenterNet and NanoDet: labels, boxes in original pixels,
 * EXIF orientation, option checks and the phase event.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box, DetectResult, Detection } from '../../services/core/contracts.ts';
import type { TaskEvent } from '../../services/core/events.ts';
import { SVG, decompressionBomb, photo, storedRotated, truncated } from './images.ts';
import { openVision, type VisionUnderTest } from './vision-setup.ts';
import { codeOf } from '../support/code-of.ts';

let vision: VisionUnderTest;

beforeAll(async () => {
  vision = await openVision(['centernet', 'nanodet', 'blazeface']);
});

afterAll(async () => {
  await vision?.repository.close();
});

const DETECTORS = ['centernet', 'nanodet'] as const;

const centre = (box: Box) => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 });

function best(result: DetectResult, label: string): Detection {
  const found = result.detections.filter((detection) => detection.label === label);
  expect(found.length, `${label} in ${JSON.stringify(result.detections.map((d) => d.label))}`).toBeGreaterThan(0);
  return found[0]!;
}

function expectInside(result: DetectResult): void {
  for (const { box, score } of result.detections) {
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(1);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.width).toBeGreaterThan(0);
    expect(box.height).toBeGreaterThan(0);
    expect(box.x + box.width).toBeLessThanOrEqual(result.width + 0.01);
    expect(box.y + box.height).toBeLessThanOrEqual(result.height + 0.01);
  }
}


describe.each(DETECTORS)('detect with %s', (model) => {
  it('dog.jpg: a dog in the lower left, a bicycle across the middle, a truck top right', async () => {
    const result = await vision.tasks.detect(photo('dog.jpg'), { model, threshold: 0.25 });
    expect(result).toMatchObject({ model, version: '1', width: 768, height: 576 });
    expectInside(result);
    const dog = centre(best(result, 'dog').box);
    expect(dog.x).toBeLessThan(768 / 2);
    expect(dog.y).toBeGreaterThan(576 / 2);
    const bicycle = best(result, 'bicycle').box;
    expect(bicycle.width).toBeGreaterThan(768 / 3); // it spans the middle of the picture
    expect(centre(bicycle).x).toBeGreaterThan(768 / 4);
    expect(centre(bicycle).x).toBeLessThan((3 * 768) / 4);
    const truck = centre(best(result, 'truck').box);
    expect(truck.x).toBeGreaterThan(768 / 2);
    expect(truck.y).toBeLessThan(576 / 3);
    const scores = result.detections.map((detection) => detection.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it('person.jpg: a person in the middle left, a dog bottom left, a horse on the right', async () => {
    const result = await vision.tasks.detect(photo('person.jpg'), { model, threshold: 0.25 });
    expect(result).toMatchObject({ width: 640, height: 424 });
    expectInside(result);
    const person = best(result, 'person').box;
    expect(centre(person).x).toBeGreaterThan(640 * 0.2);
    expect(centre(person).x).toBeLessThan(640 * 0.5);
    expect(person.height).toBeGreaterThan(person.width); // standing
    const dog = centre(best(result, 'dog').box);
    expect(dog.x).toBeLessThan(640 / 3);
    expect(dog.y).toBeGreaterThan(424 / 2);
    expect(centre(best(result, 'horse').box).x).toBeGreaterThan(640 * 0.6);
  });

  it('horses.jpg: at least two horses, in different places', async () => {
    const result = await vision.tasks.detect(photo('horses.jpg'), { model, threshold: 0.3 });
    expectInside(result);
    const horses = result.detections.filter((detection) => detection.label === 'horse');
    expect(horses.length).toBeGreaterThanOrEqual(2);
    const xs = horses.map((horse) => centre(horse.box).x);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(773 / 4);
  });

  it('EXIF orientation: boxes of a picture stored sideways are in the upright picture', async () => {
    const upright = await vision.tasks.detect(photo('dog.jpg'), { model, threshold: 0.25 });
    const rotated = await vision.tasks.detect(await storedRotated(photo('dog.jpg')), { model, threshold: 0.25 });
    expect({ width: rotated.width, height: rotated.height }).toEqual({ width: 768, height: 576 });
    for (const label of ['dog', 'bicycle']) {
      const a = centre(best(upright, label).box);
      const b = centre(best(rotated, label).box);
      expect(Math.hypot(a.x - b.x, a.y - b.y), label).toBeLessThan(20);
    }
  });

  it('threshold and max limit the detections', async () => {
    const all = await vision.tasks.detect(photo('person.jpg'), { model, threshold: 0.05, max: 1000 });
    const strict = await vision.tasks.detect(photo('person.jpg'), { model, threshold: 0.6 });
    const one = await vision.tasks.detect(photo('person.jpg'), { model, threshold: 0.05, max: 1 });
    expect(all.detections.length).toBeGreaterThan(strict.detections.length);
    expect(strict.detections.every((detection) => detection.score >= 0.6)).toBe(true);
    expect(one.detections).toHaveLength(1);
    expect(one.detections[0]).toEqual(all.detections[0]);
  });
});

describe('detect', () => {
  it('chelsea.png: CenterNet sees the cat', async () => {
    const result = await vision.tasks.detect(photo('chelsea.png'), { threshold: 0.3 });
    expect(result.model).toBe('centernet'); // the configured default detector
    expect(result.detections[0]?.label).toBe('cat');
    expect(result.detections[0]!.box.width).toBeGreaterThan(451 / 2);
  });

  it('uses the card defaults when the request sets none', async () => {
    const result = await vision.tasks.detect(photo('dog.jpg'));
    const card = vision.repository.get('centernet').card;
    expect(result.detections.length).toBeLessThanOrEqual(card.defaults.maxDetections!);
    expect(result.detections.every((detection) => detection.score >= card.defaults.threshold!)).toBe(true);
  });

  it('reports phase times and publishes one task event per request, also for failures', async () => {
    const events: TaskEvent[] = [];
    const listen = (event: unknown) => events.push(event as TaskEvent);
    diagnostics.subscribe('mec:tasks:request', listen);
    try {
      const result = await vision.tasks.detect(photo('dog.jpg'), { model: 'nanodet' });
      await vision.tasks.detect(Buffer.alloc(0), { model: 'nanodet' }).catch(() => undefined);
      const { timings } = result;
      expect(timings.decode_ms).toBeGreaterThan(0);
      expect(timings.infer_ms).toBeGreaterThan(0);
      expect(timings.total_ms).toBeGreaterThanOrEqual(timings.decode_ms + timings.queue_ms + timings.infer_ms - 0.05);
      expect(events).toHaveLength(2);
      expect(events[0]).toMatchObject({ task: 'detect', model: 'nanodet', version: '1', ok: true, decodeMs: timings.decode_ms, inferMs: timings.infer_ms });
      expect(events[0]!.preprocessMs).toBeGreaterThan(0);
      expect(events[0]!.postprocessMs).toBeGreaterThan(0);
      expect(events[1]).toMatchObject({ task: 'detect', model: 'nanodet', ok: false, code: 'EDGE_ERR_BODY_EMPTY' });
    } finally {
      diagnostics.unsubscribe('mec:tasks:request', listen);
    }
  });

  it('BAD CALL - threshold outside 0..1 or not a number -> EDGE_ERR_QUERY_INVALID', async () => {
    for (const threshold of [-0.1, 1.5, Number.NaN, '0.5' as unknown as number]) {
      expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { threshold }))).toBe('EDGE_ERR_QUERY_INVALID');
    }
  });

  it('BAD CALL - max outside 1..1000 or fractional -> EDGE_ERR_QUERY_INVALID', async () => {
    for (const max of [0, 1001, 2.5, -1]) {
      expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { max }))).toBe('EDGE_ERR_QUERY_INVALID');
    }
  });

  it('BAD CALL - unknown model -> EDGE_ERR_MODEL_NOT_FOUND', async () => {
    expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { model: 'yolo9000' }))).toBe('EDGE_ERR_MODEL_NOT_FOUND');
  });

  it('BAD CALL - a model name that could escape the repository -> EDGE_ERR_MODEL_NAME_INVALID', async () => {
    expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { model: '../centernet' }))).toBe('EDGE_ERR_MODEL_NAME_INVALID');
  });

  it('BAD CALL - a model on disk but not loaded -> EDGE_ERR_MODEL_NOT_READY', async () => {
    expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { model: 'emotion' }))).toBe('EDGE_ERR_MODEL_NOT_READY');
  });

  it('BAD CALL - a model that is not an object detector -> EDGE_ERR_MODEL_UNSUITABLE', async () => {
    expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { model: 'blazeface' }))).toBe('EDGE_ERR_MODEL_UNSUITABLE');
  });

  it('BAD CALL - every image error comes through detect with its code', async () => {
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'EDGE_ERR_BODY_EMPTY'],
      [SVG, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
      [decompressionBomb(), 'EDGE_ERR_IMAGE_TOO_LARGE'],
      [truncated(photo('dog.jpg')), 'EDGE_ERR_IMAGE_CORRUPT'],
    ];
    for (const [bytes, code] of cases) expect(await codeOf(vision.tasks.detect(bytes))).toBe(code);
  });

  it('BAD CALL - timeoutMs not a positive number -> EDGE_ERR_QUERY_INVALID', async () => {
    for (const timeoutMs of [0, -5, Number.POSITIVE_INFINITY]) {
      expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { timeoutMs }))).toBe('EDGE_ERR_QUERY_INVALID');
    }
  });

  it('BAD CALL - a deadline shorter than decoding leaves the model run no time -> a timeout code, reported in the event', async () => {
    const events: TaskEvent[] = [];
    const listen = (event: unknown) => events.push(event as TaskEvent);
    diagnostics.subscribe('mec:tasks:request', listen);
    try {
      const code = await codeOf(vision.tasks.detect(photo('dog.jpg'), { model: 'centernet', timeoutMs: 1 }));
      expect(['EDGE_ERR_QUEUE_TIMEOUT', 'EDGE_ERR_DEADLINE_EXCEEDED']).toContain(code);
      expect(events).toMatchObject([{ task: 'detect', model: 'centernet', ok: false, code }]);
    } finally {
      diagnostics.unsubscribe('mec:tasks:request', listen);
    }
  });

  it('BAD CALL - an aborted signal rejects with EDGE_ERR_REQUEST_CANCELLED (naming its reason) before any work', async () => {
    const controller = new AbortController();
    controller.abort(new Error('client went away'));
    const failure = vision.tasks.detect(photo('dog.jpg'), { signal: controller.signal });
    await expect(failure).rejects.toThrow('client went away');
    expect(await codeOf(vision.tasks.detect(photo('dog.jpg'), { signal: controller.signal }))).toBe('EDGE_ERR_REQUEST_CANCELLED');
  });
});
