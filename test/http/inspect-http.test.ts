/**
 * POST /v1/inspect and GET /v1/inspect/surfaces over the real stack: the trained defect models of
 * models/repository (the all-surface `defect` and the specialists `defect-<surface>`), the
 * inspection task (sharp, tiling), frames of test/fixtures/inspect.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_REPOSITORY, startStack, type Stack } from './helpers.ts';
import { boxesOverlap } from '../../services/core/box.ts';
import { inspectFixtures, type InspectFixture } from '../tasks/inspect-fixtures.ts';
import { DEFECT_MODELS } from '../../services/core/config.ts';

const SURFACES = ['brick', 'grass', 'gravel', 'metal', 'textile'];
/**
 * Surfaces whose card threshold (1 % false alarms on the photo's validation quarter) does not
 * transfer to its test quarter, where the fixtures come from: gravel flags 21 % of the held-out
 * defect-free frames (README, eval:inspect), this fixture among them, at a dark gap the frame's
 * border cuts in half. There the test holds the model to ranking the pair; a camera's teach-in
 * (calibration) is the operator's remedy.
 */
const THRESHOLD_DOES_NOT_TRANSFER = new Set(['gravel']);
/** The model that serves each surface while every defect model is loaded: a specialist where there is one. */
const SERVED_BY = Object.fromEntries(SURFACES.map((surface) => [surface, DEFECT_MODELS.includes(`defect-${surface}`) ? `defect-${surface}` : 'defect']));

describe('inspection routes on the trained defect models', () => {
  let stack: Stack;
  const fixtures = inspectFixtures();
  const good = (surface: string) => fixtures.find((fixture) => fixture.surface === surface && fixture.defect === null)!;
  const defective = (surface: string) => fixtures.find((fixture) => fixture.surface === surface && fixture.defect !== null)!;

  beforeAll(async () => {
    stack = await startStack({ runtime: { workers: 1 }, models: { repository: MODEL_REPOSITORY, load: [...DEFECT_MODELS] } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const inspect = (payload: Buffer | string, query: string, contentType = 'image/jpeg') =>
    stack.app.inject({ method: 'POST', url: `/v1/inspect${query}`, headers: { 'content-type': contentType }, payload });

  const listed = async () => {
    const response = await stack.app.inject({ method: 'GET', url: '/v1/inspect/surfaces' });
    expect(response.statusCode).toBe(200);
    return (response.json() as { surfaces: { name: string; model: string; threshold: number; falseAlarmRate: number | null }[] }).surfaces;
  };

  it('lists the five surfaces with their thresholds, each served by its specialist where one is loaded', async () => {
    const surfaces = await listed();
    expect(surfaces.map((surface) => surface.name)).toEqual(SURFACES);
    expect(Object.values(SERVED_BY)).not.toEqual(SURFACES.map(() => 'defect')); // at least one specialist is in the family
    for (const surface of surfaces) {
      expect(surface.model).toBe(SERVED_BY[surface.name]);
      expect(surface.threshold).toBeGreaterThan(0);
      expect(surface.threshold).toBeLessThan(1);
      expect(surface.falseAlarmRate).not.toBeNull();
    }
  });

  it.each(SURFACES)('%s: a defective frame is flagged and its region overlaps the drawn defect; a defect-free one scores lower, and passes where the card threshold transfers', async (surface) => {
    const clean = await inspect(good(surface).bytes, `?surface=${surface}`);
    expect(clean.statusCode).toBe(200);
    const cleanBody = clean.json();
    expect(Object.keys(cleanBody).sort()).toEqual(['defective', 'height', 'model', 'placement', 'regions', 'score', 'surface', 'threshold', 'timings', 'version', 'width']);
    expect(cleanBody).toMatchObject({ surface, model: SERVED_BY[surface], width: 256, height: 256 });
    expect(cleanBody.defective).toBe(cleanBody.score >= cleanBody.threshold);
    expect(cleanBody.regions.length > 0).toBe(cleanBody.defective);
    if (!THRESHOLD_DOES_NOT_TRANSFER.has(surface)) {
      expect(cleanBody).toMatchObject({ defective: false, regions: [] });
    }

    const fixture: InspectFixture = defective(surface);
    const flagged = await inspect(fixture.bytes, `?surface=${surface}`);
    const body = flagged.json();
    expect(body.defective).toBe(true);
    expect(body.score).toBeGreaterThanOrEqual(body.threshold);
    expect(body.score).toBeLessThanOrEqual(1);
    expect(body.score).toBeGreaterThan(cleanBody.score);
    expect(body.regions.length).toBeGreaterThan(0);
    expect(body.regions.some((region: { box: { x: number; y: number; width: number; height: number } }) => fixture.boxes.some((box) => boxesOverlap(region.box, box)))).toBe(true);
  });

  it('a surface whose specialist is unloaded falls back to the all-surface model, and returns to the specialist when it is loaded again', async () => {
    const specialist = Object.values(SERVED_BY).find((model) => model !== 'defect')!;
    const surface = specialist.slice('defect-'.length);
    await stack.repository.unload(specialist);
    try {
      expect((await listed()).find((entry) => entry.name === surface)?.model).toBe('defect');
      const body = (await inspect(defective(surface).bytes, `?surface=${surface}`)).json();
      expect(body).toMatchObject({ surface, model: 'defect' });
    } finally {
      await stack.repository.load(specialist);
    }
    expect((await listed()).find((entry) => entry.name === surface)?.model).toBe(specialist);
    expect((await inspect(good(surface).bytes, `?surface=${surface}`)).json()).toMatchObject({ surface, model: specialist });
  });

  it('tiles a large image at the model scale: a defect pasted at a known place is found there', async () => {
    const fixture = defective('metal');
    const tile = good('metal').bytes;
    // 3 x 2 frames of the same surface, the defective one in the middle of the bottom row.
    const canvas = await sharp({ create: { width: 768, height: 512, channels: 3, background: '#808080' } })
      .composite([
        { input: tile, left: 0, top: 0 },
        { input: tile, left: 256, top: 0 },
        { input: tile, left: 512, top: 0 },
        { input: tile, left: 0, top: 256 },
        { input: fixture.bytes, left: 256, top: 256 },
        { input: tile, left: 512, top: 256 },
      ])
      .jpeg({ quality: 92 })
      .toBuffer();
    const body = (await inspect(canvas, '?surface=metal')).json();
    expect(body).toMatchObject({ width: 768, height: 512, defective: true });
    const shifted = fixture.boxes.map((box) => ({ ...box, x: box.x + 256, y: box.y + 256 }));
    expect(body.regions.some((region: { box: { x: number; y: number; width: number; height: number } }) => shifted.some((box) => boxesOverlap(region.box, box)))).toBe(true);
  });

  it('takes a small image (scaled up to a tile) and reports boxes in its own pixels', async () => {
    const small = await sharp(good('brick').bytes).resize(128, 96).png().toBuffer();
    const body = (await inspect(small, '?surface=brick', 'image/png')).json();
    expect(body).toMatchObject({ width: 128, height: 96 });
    for (const region of body.regions) {
      expect(region.box.x + region.box.width).toBeLessThanOrEqual(128);
      expect(region.box.y + region.box.height).toBeLessThanOrEqual(96);
    }
  });

  it('honours ?threshold= (0 flags everything, with a region)', async () => {
    const body = (await inspect(good('gravel').bytes, '?surface=gravel&threshold=0')).json();
    expect(body).toMatchObject({ threshold: 0, defective: true });
    expect(body.regions.length).toBeGreaterThan(0);
  });

  it('BAD CALL - unknown surface: 404 EDGE_ERR_SURFACE_NOT_FOUND naming the surfaces there are', async () => {
    const response = await inspect(good('brick').bytes, '?surface=marble');
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toMatchObject({ code: 'EDGE_ERR_SURFACE_NOT_FOUND', details: { available: SURFACES } });
  });

  it('BAD CALL - missing surface or threshold out of range: 400 EDGE_ERR_QUERY_INVALID', async () => {
    for (const query of ['', '?surface=brick&threshold=2', '?surface=brick&threshold=high']) {
      const response = await inspect(good('brick').bytes, query);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.code).toBe('EDGE_ERR_QUERY_INVALID');
    }
  });

  it('BAD CALL - truncated JPEG 422, empty body 400, SVG 415; the route keeps serving', async () => {
    const bytes = good('textile').bytes;
    expect((await inspect(bytes.subarray(0, bytes.length >> 1), '?surface=textile')).json().error.code).toBe('EDGE_ERR_IMAGE_CORRUPT');
    expect((await inspect(Buffer.alloc(0), '?surface=textile')).statusCode).toBe(400);
    const svg = await inspect('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', '?surface=textile');
    expect(svg.statusCode).toBe(415);
    expect((await inspect(bytes, '?surface=textile')).statusCode).toBe(200);
  });

  it('serves the raw model over the V2 protocol', async () => {
    const response = await stack.app.inject({
      method: 'POST',
      url: '/v2/models/defect/infer',
      payload: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 256, 256], data: new Array(3 * 256 * 256).fill(0.5) }] },
    });
    expect(response.statusCode).toBe(200);
    const outputs = Object.fromEntries((response.json().outputs as { name: string; shape: number[] }[]).map((output) => [output.name, output.shape]));
    expect(outputs).toEqual({ defect_map: [1, 1, 64, 64], score: [1] });
  });
});
