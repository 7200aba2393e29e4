/**
 * Blurs every face in an image before it may go where policy wants faces unrecognisable. Faces are
 * found with the vision layer's faces() (BlazeFace) at a low threshold, since a face missed leaves
 * the tier recognisable while a false alarm only blurs a patch of background. Each box is enlarged
 * (hair, ears and chin identify too) and blurred hard enough that the detector no longer finds a
 * face there. Pixels outside the boxes are kept: exactly for PNG, within one JPEG re-encode for
 * JPEG and WebP. Output carries no metadata: the input is stripped first, and sharp writes none.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { Box, VisionTasks } from '../../core/contracts.ts';
import { EdgeError, throwIfCancelled } from '../../core/errors.ts';
import { openImage, type DecodeLimits, type ImageFormat } from '../common/image.ts';
import { stripMetadata } from './strip-metadata.ts';

/**
 * Low on purpose: blurring a false alarm costs little, missing a face defeats the policy. (The
 * small face in test/fixtures/images/person.jpg scores 0.40, so 0.5 would let it through.)
 */
export const FACE_BLUR_THRESHOLD = 0.3;
export const FACE_BLUR_MAX_FACES = 100;
/** Each side of a box grows by this fraction of its length (10% either way). */
export const FACE_BOX_GROWTH = 0.2;
/**
 * Blur radius as a fraction of the blurred region's longer side, and its floor in pixels. At 0.25
 * BlazeFace scores the blurred faces of the test photos below 0.2; at 0.15 one still scored 0.35.
 */
const SIGMA_PER_SIDE = 0.25;
const MIN_SIGMA = 8;
const JPEG_QUALITY = 90;

export interface FaceBlurOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface FaceBlurResult {
  bytes: Buffer;
  /** Faces found and blurred. */
  faces: number;
  /** 'jpeg' for JPEG and WebP input, 'png' for PNG; a WebP without faces stays 'webp' (returned as stripped). */
  format: ImageFormat;
  /** The regions blurred, in pixels of the output (the enlarged face boxes, clipped to the image). */
  regions: Region[];
}

export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

export type FaceBlur = (image: Uint8Array, options?: FaceBlurOptions) => Promise<FaceBlurResult>;

/**
 * Throws the codes of stripMetadata and openImage (format, size, corrupt data), and those of
 * vision.faces (models not loaded, queue full, deadline, cancellation). vision.faces also runs the
 * expression model, so that model must be loaded too.
 */
export function createFaceBlur(vision: VisionTasks, limits: DecodeLimits): FaceBlur {
  return async function blurFaces(image, options = {}) {
    throwIfCancelled(options.signal);
    const stripped = await stripMetadata(image, { maxPixels: limits.maxPixels });
    if (stripped.format === 'wav') throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', 'faces can only be blurred in an image, not in audio');
    // Format allow-list and pixel cap from the header, before any model runs.
    const source = await openImage(stripped.bytes, limits);
    const found = await vision.faces(stripped.bytes, {
      threshold: FACE_BLUR_THRESHOLD,
      max: FACE_BLUR_MAX_FACES,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (found.faces.length === 0) return { bytes: stripped.bytes, faces: 0, format: source.format, regions: [] };
    throwIfCancelled(options.signal);

    const regions = found.faces.map((face) => enlargedRegion(face.box, source.width, source.height)).filter((region) => region.width > 0 && region.height > 0);
    const format = source.format === 'png' ? 'png' : 'jpeg';
    try {
      const bytes = await blurRegions(stripped.bytes, regions, format, limits.maxPixels);
      return { bytes, faces: found.faces.length, format, regions };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new EdgeError('EDGE_ERR_IMAGE_CORRUPT', `${source.format} image is truncated or corrupt: ${message}`, { cause: error, details: { format: source.format } });
    }
  };
}

/** The box grown by FACE_BOX_GROWTH about its centre, rounded outwards to whole pixels, clipped to the image. */
export function enlargedRegion(box: Box, width: number, height: number): Region {
  const growX = (box.width * FACE_BOX_GROWTH) / 2;
  const growY = (box.height * FACE_BOX_GROWTH) / 2;
  const left = Math.max(0, Math.floor(box.x - growX));
  const top = Math.max(0, Math.floor(box.y - growY));
  const right = Math.min(width, Math.ceil(box.x + box.width + growX));
  const bottom = Math.min(height, Math.ceil(box.y + box.height + growY));
  return { left, top, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}

/**
 * Decodes once, blurs each region cut from the decoded pixels, pastes the blurred patches back and
 * encodes. Alpha is kept; every patch is cut from the unblurred image, so overlapping faces are
 * each blurred however they overlap.
 */
async function blurRegions(bytes: Buffer, regions: readonly Region[], format: 'jpeg' | 'png', maxPixels: number): Promise<Buffer> {
  const { data, info } = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: info.channels };
  const patches: OverlayOptions[] = await Promise.all(
    regions.map(async (region) => {
      const sigma = Math.max(MIN_SIGMA, SIGMA_PER_SIDE * Math.max(region.width, region.height));
      const patch = await sharp(data, { raw }).extract(region).blur(sigma).raw().toBuffer();
      return { input: patch, raw: { width: region.width, height: region.height, channels: info.channels }, left: region.left, top: region.top };
    }),
  );
  const blurred = sharp(data, { raw }).composite(patches);
  return format === 'png' ? blurred.png().toBuffer() : blurred.jpeg({ quality: JPEG_QUALITY }).toBuffer();
}
