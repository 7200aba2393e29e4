/**
 * Resampling an image to a model's input size. libvips does the work on its own threads (decoding
 * and resizing in one pass when the image is not decoded yet); what comes back is a small RGB
 * buffer that the model files lay out as tensors.
 */
import type { Sharp } from 'sharp';
import type { Box } from '../../core/contracts.ts';
import type { ImageSource } from '../common/image.ts';

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

/** Stretches the whole image to width x height (aspect not kept), as the detectors were run upstream. */
export async function stretchTo(image: ImageSource, width: number, height: number): Promise<{ rgb: Buffer; frame: Frame }> {
  const rgb = await image.rasterize((pipeline) => pipeline.resize(width, height, { fit: 'fill', kernel: 'linear' }));
  return {
    rgb,
    frame: { width: image.width, height: image.height, scaleX: width / image.width, scaleY: height / image.height, padX: 0, padY: 0 },
  };
}

function letterboxShape(image: ImageSource, size: number): { shape: (pipeline: Sharp) => Sharp; frame: Frame } {
  const scale = Math.min(size / image.width, size / image.height);
  const width = Math.max(1, Math.min(size, Math.round(image.width * scale)));
  const height = Math.max(1, Math.min(size, Math.round(image.height * scale)));
  const padX = Math.floor((size - width) / 2);
  const padY = Math.floor((size - height) / 2);
  const shape = (pipeline: Sharp): Sharp =>
    pipeline
      .resize(width, height, { fit: 'fill', kernel: 'linear' })
      .extend({ left: padX, right: size - width - padX, top: padY, bottom: size - height - padY, background: { r: 0, g: 0, b: 0 } });
  return { shape, frame: { width: image.width, height: image.height, scaleX: width / image.width, scaleY: height / image.height, padX, padY } };
}

/** Scales the image to fit size x size keeping its aspect, centred on black padding. */
export async function letterboxTo(image: ImageSource, size: number): Promise<{ rgb: Buffer; frame: Frame }> {
  const { shape, frame } = letterboxShape(image, size);
  return { rgb: await image.rasterize(shape), frame };
}

/** Cuts an integer box (inside the image) and resizes it to width x height. */
export async function cropTo(image: ImageSource, box: Box, width: number, height: number): Promise<Buffer> {
  const region = { left: box.x, top: box.y, width: Math.max(1, box.width), height: Math.max(1, box.height) };
  return image.rasterize((pipeline) => pipeline.extract(region).resize(width, height, { fit: 'fill', kernel: 'linear' }));
}
