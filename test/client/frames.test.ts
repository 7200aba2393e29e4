/**
 * The camera simulator's frame renderer: deterministic per seed, the asked size and format, defects
 * inside their boxes and visible there, good frames without boxes.
 */
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import path from 'node:path';
import { DEFECT_TYPES, defectsSvg, drawDefect } from '../../services/client/camera/defects.ts';
import { SURFACES, loadTexture, planFrame, renderFrame, type Texture } from '../../services/client/camera/frames.ts';
import { mulberry32 } from '../../services/client/camera/random.ts';
import { codeOf } from '../support/code-of.ts';

// The real surface textures may not exist yet in every checkout; any photo is a texture to this code.
const TEXTURE_FILE = path.resolve(import.meta.dirname, '..', 'fixtures', 'images', 'chelsea.png');
const texture: Texture = await loadTexture('gravel', 256, TEXTURE_FILE);

async function pixels(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number; format: string }> {
  const format = (await sharp(bytes).metadata()).format ?? 'unknown';
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels, format };
}

describe('mulberry32', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const first = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(first);
    for (const value of first) expect(value >= 0 && value < 1).toBe(true);
  });
});

describe('planFrame and renderFrame', () => {
  it('renders the same bytes for the same seed, and other bytes for another seed', async () => {
    const render = async (seed: number) => {
      const plan = planFrame(mulberry32(seed), texture, { size: 256, defectRate: 1 });
      return { plan, bytes: await renderFrame(texture, plan, { format: 'jpeg' }) };
    };
    const [first, again, other] = await Promise.all([render(7), render(7), render(8)]);
    expect(again.plan).toEqual(first.plan);
    expect(again.bytes.equals(first.bytes)).toBe(true);
    expect(other.bytes.equals(first.bytes)).toBe(false);
  });

  it('encodes square RGB frames of the asked size as JPEG or PNG', async () => {
    for (const [size, format] of [[256, 'jpeg'], [128, 'png'], [320, 'jpeg']] as const) {
      const big = await loadTexture('gravel', size, TEXTURE_FILE);
      const plan = planFrame(mulberry32(size), big, { size, defectRate: 0.5 });
      const decoded = await pixels(await renderFrame(big, plan, { format }));
      expect(decoded).toMatchObject({ width: size, height: size, channels: 3, format });
    }
  });

  it('turns and mirrors the window exactly as sharp does (rotate, then flop)', async () => {
    const window = await sharp(texture.data, { raw: { width: texture.width, height: texture.height, channels: 3 } })
      .extract({ left: 40, top: 10, width: 256, height: 256 }).raw().toBuffer();
    for (const rotation of [0, 90, 180, 270] as const) {
      for (const mirrored of [false, true]) {
        const plan = { size: 256, cropX: 40, cropY: 10, rotation, mirrored, contrast: 1, brightness: 0, noiseSigma: 0, noiseSeed: 1, defects: [] };
        const ours = await pixels(await renderFrame(texture, plan, { format: 'png' }));
        // Two passes: within one pipeline sharp mirrors before it turns.
        const turned = await sharp(window, { raw: { width: 256, height: 256, channels: 3 } }).rotate(rotation).raw().toBuffer();
        const theirs = mirrored ? await sharp(turned, { raw: { width: 256, height: 256, channels: 3 } }).flop().raw().toBuffer() : turned;
        expect({ rotation, mirrored, same: ours.data.equals(theirs) }).toEqual({ rotation, mirrored, same: true });
      }
    }
  });

  it('good frames carry no defects and defective frames at least one, at the asked rate', () => {
    const random = mulberry32(1);
    const plans = Array.from({ length: 2000 }, () => planFrame(random, texture, { size: 256, defectRate: 0.1 }));
    const defective = plans.filter((plan) => plan.defects.length > 0).length;
    expect(defective).toBeGreaterThan(150);
    expect(defective).toBeLessThan(250);
    expect(planFrame(mulberry32(2), texture, { size: 256, defectRate: 0 }).defects).toEqual([]);
    for (const plan of plans) expect(plan.defects.length).toBeLessThanOrEqual(2);
  });

  it('each defect type changes the frame inside its box, visibly, and nowhere outside it', async () => {
    for (const type of DEFECT_TYPES) {
      for (const seed of [1, 2, 3, 4]) {
        const plan = planFrame(mulberry32(seed * 100), texture, { size: 256, defectRate: 1, defectTypes: [type] });
        // PNG keeps pixels exact; sensor noise is seeded per frame, so it cancels in the difference.
        const withDefects = await pixels(await renderFrame(texture, plan, { format: 'png' }));
        const clean = await pixels(await renderFrame(texture, plan, { format: 'png', drawDefects: false }));
        const inAnyBox = (x: number, y: number) =>
          plan.defects.some(({ box }) => x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height);
        let outsideMax = 0;
        for (let y = 0; y < 256; y++) {
          for (let x = 0; x < 256; x++) {
            if (inAnyBox(x, y)) continue;
            for (let c = 0; c < 3; c++) {
              const i = (y * 256 + x) * 3 + c;
              outsideMax = Math.max(outsideMax, Math.abs(withDefects.data[i]! - clean.data[i]!));
            }
          }
        }
        // A blur tail past 3 sigma rounds to at most a level or two.
        expect({ type, seed, outsideMax: outsideMax <= 2 }).toEqual({ type, seed, outsideMax: true });
        for (const { box } of plan.defects) {
          expect(box.width).toBeGreaterThan(0);
          expect(box.height).toBeGreaterThan(0);
          let strong = 0;
          for (let y = box.y; y < box.y + box.height; y++) {
            for (let x = box.x; x < box.x + box.width; x++) {
              const i = (y * 256 + x) * 3;
              const change = Math.abs(withDefects.data[i]! - clean.data[i]!) + Math.abs(withDefects.data[i + 1]! - clean.data[i + 1]!) + Math.abs(withDefects.data[i + 2]! - clean.data[i + 2]!);
              if (change >= 60) strong++;
            }
          }
          // Visible: a clear change of colour (>= 20 levels per channel on average) on several pixels.
          expect({ type, seed, visible: strong >= 8 }).toEqual({ type, seed, visible: true });
        }
      }
    }
  });

  it('boxes stay inside the frame and scale with its size', () => {
    const random = mulberry32(5);
    for (let i = 0; i < 500; i++) {
      const size = i % 2 === 0 ? 256 : 512;
      const defect = drawDefect(random.pick(DEFECT_TYPES), random, size, size);
      expect(defect.box.x).toBeGreaterThanOrEqual(0);
      expect(defect.box.y).toBeGreaterThanOrEqual(0);
      expect(defect.box.x + defect.box.width).toBeLessThanOrEqual(size);
      expect(defect.box.y + defect.box.height).toBeLessThanOrEqual(size);
    }
    const svg = defectsSvg([drawDefect('spot', mulberry32(1), 256, 256)], 256, 256);
    expect(svg).toContain('feGaussianBlur');
  });

  it('renders frames from each surface texture in models/inspect/textures', async () => {
    for (const surface of SURFACES) {
      const real = await loadTexture(surface, 256);
      const plan = planFrame(mulberry32(9), real, { size: 256, defectRate: 1 });
      expect(await pixels(await renderFrame(real, plan, { format: 'jpeg' }))).toMatchObject({ width: 256, height: 256, channels: 3, format: 'jpeg' });
    }
  });

  it('BAD CALL - a surface with no texture or a path-like name is refused with a code', async () => {
    expect(await codeOf(loadTexture('no-such-surface', 256))).toBe('EDGE_ERR_CONFIG_INVALID');
    expect(await codeOf(loadTexture('../../etc/passwd', 256))).toBe('EDGE_ERR_CONFIG_INVALID');
  });
});
