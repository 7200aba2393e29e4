/**
 * Model inputs made from real photos exactly as each model card's preprocessing text says
 * (sharp: decode, drop alpha, resize with fit "fill", i.e. bilinear-ish resampling of the
 * whole image to the model size). Used by the equivalence check; services/tasks/vision
 * implements the same steps for serving.
 */
import sharp from 'sharp';
import type { PlainTensor } from './tfjs-runner.ts';

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

async function rgbPixels(imagePath: string, width: number, height: number, region?: Region): Promise<Buffer> {
  let image = sharp(imagePath).removeAlpha();
  if (region) image = image.extract(region);
  return image.resize(width, height, { fit: 'fill' }).raw().toBuffer();
}

/** NHWC float RGB, value = a * pixel + b (pixel 0..255). */
export async function nhwcRgb(imagePath: string, size: number, a: number, b: number): Promise<PlainTensor> {
  const pixels = await rgbPixels(imagePath, size, size);
  return { dims: [1, size, size, 3], data: Float32Array.from(pixels, (value) => a * value + b) };
}

/** NCHW float RGB, pixel / 255. */
export async function nchwRgbUnit(imagePath: string, size: number): Promise<PlainTensor> {
  const pixels = await rgbPixels(imagePath, size, size);
  const plane = size * size;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = pixels[3 * i + c]! / 255;
  return { dims: [1, 3, size, size], data };
}

/** Grayscale face crop [n, size, size, 1]: gray = 0.2989 R + 0.5870 G + 0.1140 B (0..1), value = 2 * gray - 1. */
export async function grayFace(imagePath: string, size: number, region: Region): Promise<PlainTensor> {
  const pixels = await rgbPixels(imagePath, size, size, region);
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) {
    const gray = (0.2989 * pixels[3 * i]! + 0.587 * pixels[3 * i + 1]! + 0.114 * pixels[3 * i + 2]!) / 255;
    data[i] = (gray - 0.5) * 2;
  }
  return { dims: [1, size, size, 1], data };
}
