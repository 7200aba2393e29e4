/**
 * Faces on real photos: BlazeFace boxes in original pixels, expressions from the emotion model
 * (all faces in one batched run), EXIF orientation and bad calls.
 */
import diagnostics from 'node:diagnostics_channel';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Box } from '../../services/core/contracts.ts';
import type { InferenceEvent, TaskEvent } from '../../services/core/events.ts';
import { SVG, decompressionBomb, photo, storedRotated, truncated } from './images.ts';
import { openVision, type VisionUnderTest } from './vision-setup.ts';
import { codeOf } from '../support/code-of.ts';

let vision: VisionUnderTest;

beforeAll(async () => {
  vision = await openVision(['blazeface', 'emotion']);
});

afterAll(async () => {
  await vision?.repository.close();
});

const centre = (box: Box) => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 });
const sum = (values: Record<string, number>) => Object.values(values).reduce((total, value) => total + value, 0);


/** Eileen Collins' face in astronaut.png (512x512), read off the picture: about x 175-275, y 75-180. */
function expectAstronautFace(box: Box, offsetX = 0): void {
  const { x, y } = centre(box);
  expect(x - offsetX).toBeGreaterThan(205);
  expect(x - offsetX).toBeLessThan(245);
  expect(y).toBeGreaterThan(105);
  expect(y).toBeLessThan(150);
  expect(box.width).toBeGreaterThan(70);
  expect(box.width).toBeLessThan(160);
  expect(box.height).toBeGreaterThan(70);
  expect(box.height).toBeLessThan(160);
}

describe('faces', () => {
  it('astronaut.png: exactly one face over her face, smiling, probabilities summing to 1', async () => {
    const result = await vision.tasks.faces(photo('astronaut.png'));
    expect(result).toMatchObject({ model: 'blazeface', version: '1', width: 512, height: 512 });
    expect(result.faces).toHaveLength(1);
    const [face] = result.faces;
    expectAstronautFace(face!.box);
    expect(face!.score).toBeGreaterThan(0.5);
    expect(face!.score).toBeLessThanOrEqual(1);
    expect(Object.keys(face!.expression)).toEqual(vision.repository.get('emotion').card.labels);
    expect(sum(face!.expression)).toBeCloseTo(1, 6);
    expect(Object.values(face!.expression).every((p) => p >= 0 && p <= 1)).toBe(true);
    expect(face!.dominant).toBe('happy');
    expect(result.timings.infer_ms).toBeGreaterThan(0);
  });

  it('two faces side by side: two boxes, expressions from one batched emotion run', async () => {
    const astronaut = photo('astronaut.png');
    const pair = await sharp({ create: { width: 1024, height: 512, channels: 3, background: 'black' } })
      .composite([{ input: astronaut, left: 0, top: 0 }, { input: astronaut, left: 512, top: 0 }])
      .png()
      .toBuffer();
    const runs: InferenceEvent[] = [];
    const listen = (event: unknown) => runs.push(event as InferenceEvent);
    diagnostics.subscribe('mec:runtime:inference', listen);
    try {
      const result = await vision.tasks.faces(pair);
      expect(result.faces).toHaveLength(2);
      const [left, right] = [...result.faces].sort((a, b) => a.box.x - b.box.x);
      expectAstronautFace(left!.box);
      expectAstronautFace(right!.box, 512);
      for (const face of result.faces) {
        expect(sum(face.expression)).toBeCloseTo(1, 6);
        expect(face.dominant).toBe('happy');
      }
      expect(runs.filter((run) => run.model === 'emotion')).toHaveLength(1);
    } finally {
      diagnostics.unsubscribe('mec:runtime:inference', listen);
    }
  });

  it('EXIF orientation: the face of a picture stored sideways is found in the upright picture', async () => {
    const jpeg = await sharp(photo('astronaut.png')).jpeg({ quality: 95 }).toBuffer();
    const result = await vision.tasks.faces(await storedRotated(jpeg));
    expect(result.faces).toHaveLength(1);
    expectAstronautFace(result.faces[0]!.box);
  });

  it('a picture without people has no faces, and the emotion model is not run', async () => {
    const events: TaskEvent[] = [];
    const listen = (event: unknown) => events.push(event as TaskEvent);
    diagnostics.subscribe('mec:tasks:request', listen);
    try {
      const result = await vision.tasks.faces(photo('horses.jpg'));
      expect(result.faces).toEqual([]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ task: 'faces', model: 'blazeface', ok: true });
    } finally {
      diagnostics.unsubscribe('mec:tasks:request', listen);
    }
  });

  it('max limits the faces', async () => {
    const astronaut = photo('astronaut.png');
    const pair = await sharp({ create: { width: 1024, height: 512, channels: 3, background: 'black' } })
      .composite([{ input: astronaut, left: 0, top: 0 }, { input: astronaut, left: 512, top: 0 }])
      .jpeg()
      .toBuffer();
    const result = await vision.tasks.faces(pair, { max: 1 });
    expect(result.faces).toHaveLength(1);
  });

  it('BAD CALL - threshold or max out of range -> EDGE_ERR_QUERY_INVALID', async () => {
    expect(await codeOf(vision.tasks.faces(photo('astronaut.png'), { threshold: 2 }))).toBe('EDGE_ERR_QUERY_INVALID');
    expect(await codeOf(vision.tasks.faces(photo('astronaut.png'), { max: 0 }))).toBe('EDGE_ERR_QUERY_INVALID');
  });

  it('BAD CALL - every image error comes through faces with its code', async () => {
    const cases: [Buffer, string][] = [
      [Buffer.alloc(0), 'EDGE_ERR_BODY_EMPTY'],
      [SVG, 'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED'],
      [decompressionBomb(), 'EDGE_ERR_IMAGE_TOO_LARGE'],
      [truncated(photo('astronaut.png')), 'EDGE_ERR_IMAGE_CORRUPT'],
    ];
    for (const [bytes, code] of cases) expect(await codeOf(vision.tasks.faces(bytes))).toBe(code);
  });
});

describe('faces without an expression model', () => {
  let partial: VisionUnderTest;
  beforeAll(async () => {
    partial = await openVision(['blazeface']);
  });
  afterAll(async () => {
    await partial?.repository.close();
  });

  it('BAD CALL - emotion on disk but not loaded -> EDGE_ERR_MODEL_NOT_READY (from the registry)', async () => {
    expect(await codeOf(partial.tasks.faces(photo('astronaut.png')))).toBe('EDGE_ERR_MODEL_NOT_READY');
  });
});
