/**
 * Resampling of an already decoded RGB raster to a model's input size. libvips does the work on
 * its own threads; what comes back is a small RGB buffer that the model files lay out as tensors.
 */
import sharp, { type Sharp } from 'sharp';
import type { Box } from '../../core/contracts.ts';
import type { RgbImage } from './image.ts';

/** How model-input pixels map back to the original image: original = (input - pad) / scale. */
export interface Frame {
  /** Original image size. */
  width: number;
  height: number;
  scaleX: number;
  scaleY: number;
  padX: number;
  padY: number;
}

function fromRaw(image: RgbImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
}

async function toRgb(pipeline: Sharp): Promise<Buffer> {
  return pipeline.raw().toBuffer();
}

/** Stretches the whole image to width x height (aspect not kept), as the detectors were run upstream. */
export async function stretchTo(image: RgbImage, width: number, height: number): Promise<{ rgb: Buffer; frame: Frame }> {
  const rgb = await toRgb(fromRaw(image).resize(width, height, { fit: 'fill', kernel: 'linear' }));
  return {
    rgb,
    frame: { width: image.width, height: image.height, scaleX: width / image.width, scaleY: height / image.height, padX: 0, padY: 0 },
  };
}

function letterboxPipeline(image: RgbImage, size: number): { pipeline: Sharp; frame: Frame } {
  const scale = Math.min(size / image.width, size / image.height);
  const width = Math.max(1, Math.min(size, Math.round(image.width * scale)));
  const height = Math.max(1, Math.min(size, Math.round(image.height * scale)));
  const padX = Math.floor((size - width) / 2);
  const padY = Math.floor((size - height) / 2);
  const pipeline = fromRaw(image)
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .extend({ left: padX, right: size - width - padX, top: padY, bottom: size - height - padY, background: { r: 0, g: 0, b: 0 } });
  return { pipeline, frame: { width: image.width, height: image.height, scaleX: width / image.width, scaleY: height / image.height, padX, padY } };
}

/** Scales the image to fit size x size keeping its aspect, centred on black padding. */
export async function letterboxTo(image: RgbImage, size: number): Promise<{ rgb: Buffer; frame: Frame }> {
  const { pipeline, frame } = letterboxPipeline(image, size);
  return { rgb: await toRgb(pipeline), frame };
}

/** Cuts an integer box (inside the image) and resizes it to width x height. */
export async function cropTo(image: RgbImage, box: Box, width: number, height: number): Promise<Buffer> {
  const region = { left: box.x, top: box.y, width: Math.max(1, box.width), height: Math.max(1, box.height) };
  return toRgb(fromRaw(image).extract(region).resize(width, height, { fit: 'fill', kernel: 'linear' }));
}
