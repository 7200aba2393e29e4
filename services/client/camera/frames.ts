/**
 * Camera frames of a real surface texture: a random window of it, turned and flipped, with lighting
 * jitter, sensor noise and (on defective frames) defects drawn by defects.ts, encoded as JPEG or PNG.
 *
 * A frame is first planned (pure: every random choice from the seeded PRNG, defects with their
 * boxes) and then rendered from its plan, so that a test can render the same frame without its
 * defects and compare.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../../core/config.ts';
import { EdgeError } from '../../core/errors.ts';
import { DEFECT_TYPES, defectsSvg, drawDefect, type DefectType, type DrawnDefect } from './defects.ts';
import { mulberry32, type Random } from './random.ts';

import { SURFACES } from './surfaces.ts';

export { SURFACES };
export type FrameFormat = 'jpeg' | 'png';

/** A decoded texture: 8-bit RGB, row-major. */
export interface Texture {
  surface: string;
  width: number;
  height: number;
  data: Buffer;
}

/** Every random choice of one frame. */
export interface FramePlan {
  /** Side of the square frame in pixels. */
  size: number;
  /** Top-left corner of the window cut from the texture. */
  cropX: number;
  cropY: number;
  rotation: 0 | 90 | 180 | 270;
  mirrored: boolean;
  contrast: number;
  /** Added to every channel after the contrast, in 8-bit levels. */
  brightness: number;
  /** Standard deviation of the Gaussian sensor noise, in 8-bit levels. */
  noiseSigma: number;
  noiseSeed: number;
  /** Empty on a good frame. */
  defects: DrawnDefect[];
}

export interface PlanOptions {
  size: number;
  /** Probability that a frame carries defects (0..1). */
  defectRate: number;
  /** Defect types to draw from; all five by default. */
  defectTypes?: readonly DefectType[];
}

const SURFACE_NAME = /^[a-z0-9_-]{1,64}$/;

export function texturePath(surface: string): string {
  return path.join(PROJECT_ROOT, 'models', 'inspect', 'textures', `${surface}.png`);
}

/**
 * Decodes the texture of a surface to RGB. A texture smaller than the frame is scaled up once here,
 * so that every frame can be a plain window of it.
 */
export async function loadTexture(surface: string, minSide: number, file: string = texturePath(surface)): Promise<Texture> {
  // The name becomes a file path: allow plain names only.
  if (!SURFACE_NAME.test(surface)) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `surface "${surface}" is not a plain name; use one of ${SURFACES.join(', ')}`);
  }
  if (!existsSync(file)) {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `no texture for surface "${surface}" at ${file}; use one of ${SURFACES.join(', ')} or add that file`);
  }
  let image = sharp(file).removeAlpha().toColourspace('srgb');
  const { width = 0, height = 0 } = await sharp(file).metadata();
  if (Math.min(width, height) < minSide) {
    const factor = minSide / Math.min(width, height);
    image = image.resize(Math.ceil(width * factor), Math.ceil(height * factor));
  }
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { surface, width: info.width, height: info.height, data };
}

export function planFrame(random: Random, texture: Pick<Texture, 'width' | 'height'>, options: PlanOptions): FramePlan {
  const { size } = options;
  if (texture.width < size || texture.height < size) {
    throw new RangeError(`the texture (${texture.width}x${texture.height}) is smaller than the ${size}-pixel frame`);
  }
  const plan: FramePlan = {
    size,
    cropX: random.integer(0, texture.width - size),
    cropY: random.integer(0, texture.height - size),
    rotation: random.pick([0, 90, 180, 270] as const),
    mirrored: random.chance(0.5),
    contrast: random.between(0.85, 1.15),
    brightness: random.between(-18, 18),
    noiseSigma: random.between(1.5, 4),
    noiseSeed: random.fork(),
    defects: [],
  };
  if (random.chance(options.defectRate)) {
    const types = options.defectTypes ?? DEFECT_TYPES;
    // Mostly one defect; sometimes two, as on a real line.
    const count = random.chance(0.2) ? 2 : 1;
    for (let i = 0; i < count; i++) plan.defects.push(drawDefect(random.pick(types), random, size, size));
  }
  return plan;
}

/**
 * The frame's window of the texture, turned, mirrored and lit, in one pass over the pixels. Done here
 * rather than in sharp because most frames then need sharp only to encode: rendering must keep up
 * with many cameras on 2 shared cores.
 */
function viewOfTexture(texture: Texture, plan: FramePlan): Buffer {
  const { size, cropX, cropY, rotation, mirrored, contrast } = plan;
  const last = size - 1;
  // The source pixel of output (x, y): mirror, then undo a clockwise turn by `rotation`.
  const sourceOf = (x: number, y: number): [number, number] => {
    const u = mirrored ? last - x : x;
    if (rotation === 0) return [u, y];
    if (rotation === 90) return [y, last - u];
    if (rotation === 180) return [last - u, last - y];
    return [last - y, u];
  };
  // That mapping is affine: a start and one step per output column and row, in texture bytes.
  const offsetOf = ([sx, sy]: [number, number]) => ((cropY + sy) * texture.width + cropX + sx) * 3;
  const start = offsetOf(sourceOf(0, 0));
  const stepX = offsetOf(sourceOf(1, 0)) - start;
  const stepY = offsetOf(sourceOf(0, 1)) - start;
  // Contrast and brightness as a table: one lookup per channel.
  const offset = 128 * (1 - contrast) + plan.brightness;
  const light = new Uint8Array(256);
  for (let level = 0; level < 256; level++) light[level] = Math.min(255, Math.max(0, Math.round(level * contrast + offset)));
  const source = texture.data;
  const out = Buffer.allocUnsafe(size * size * 3);
  let to = 0;
  for (let y = 0; y < size; y++) {
    let from = start + y * stepY;
    for (let x = 0; x < size; x++) {
      out[to] = light[source[from]!]!;
      out[to + 1] = light[source[from + 1]!]!;
      out[to + 2] = light[source[from + 2]!]!;
      to += 3;
      from += stepX;
    }
  }
  return out;
}

/**
 * Standard normal values drawn once: sensor noise looks them up per pixel instead of drawing a
 * Gaussian each time (8 ms per 256x256 frame otherwise, which would cost frames/s on 2 cores).
 */
const NOISE_TABLE_BITS = 16;
const NOISE_TABLE = ((): Float32Array => {
  const random = mulberry32(0x5eed);
  return Float32Array.from({ length: 1 << NOISE_TABLE_BITS }, () => random.gaussian());
})();

/** Gaussian sensor noise, seeded per frame, applied after the defects: the sensor sees them too. */
function addSensorNoise(pixels: Buffer, sigma: number, seed: number): void {
  // A 32-bit LCG (Numerical Recipes) picks table entries; its high bits are random enough here.
  let state = seed >>> 0;
  const shift = 32 - NOISE_TABLE_BITS;
  for (let i = 0; i < pixels.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const value = pixels[i]! + NOISE_TABLE[state >>> shift]! * sigma;
    pixels[i] = value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
  }
}

export interface RenderOptions {
  format: FrameFormat;
  /** JPEG quality 1-100. */
  quality?: number;
  /** false renders the same frame without its defects (tests compare the two). */
  drawDefects?: boolean;
}

/** Renders a planned frame to encoded image bytes. */
export async function renderFrame(texture: Texture, plan: FramePlan, options: RenderOptions): Promise<Buffer> {
  const raw = { width: plan.size, height: plan.size, channels: 3 as const };
  let pixels = viewOfTexture(texture, plan);
  const defects = options.drawDefects === false ? [] : plan.defects;
  if (defects.length > 0) {
    const svg = Buffer.from(defectsSvg(defects, plan.size, plan.size));
    // composite() brings in an alpha channel; the camera delivers RGB.
    pixels = await sharp(pixels, { raw }).composite([{ input: svg, top: 0, left: 0 }]).removeAlpha().raw().toBuffer();
  }
  addSensorNoise(pixels, plan.noiseSigma, plan.noiseSeed);
  const encoder = sharp(pixels, { raw });
  return options.format === 'png' ? encoder.png().toBuffer() : encoder.jpeg({ quality: options.quality ?? 90 }).toBuffer();
}
