/**
 * Frame files -> model input. Both the PatchCore graphs and the defect CNN take `image` FP32
 * [N, 3, H, W], RGB in [0, 1] (byte / 255), so one reader serves both.
 */
import sharp from 'sharp';

export interface FrameTensor {
  data: Float32Array;
  width: number;
  height: number;
}

/** Decodes a PNG/JPEG to planar RGB floats in [0, 1] (alpha dropped, gray expanded to 3 channels). */
export async function readFrame(path: string): Promise<FrameTensor> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let pixel = 0; pixel < plane; pixel++) {
    for (let channel = 0; channel < 3; channel++) {
      out[channel * plane + pixel] = data[pixel * channels + Math.min(channel, channels - 1)]! / 255;
    }
  }
  return { data: out, width, height };
}
