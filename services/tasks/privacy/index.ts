/**
 * The privacy transforms applied to data before it leaves a tier, in one fixed order whatever order
 * they are asked in: metadata is stripped first (so that nothing later can carry it along), then
 * faces are blurred. Which transforms a piece of data needs is the scheduler's egress rule; this
 * module only carries them out.
 */
import type { VisionTasks } from '../../core/contracts.ts';
import { EdgeError, throwIfCancelled } from '../../core/errors.ts';
import type { DecodeLimits } from '../common/image.ts';
import { createFaceBlur } from './blur-faces.ts';
import { sniffStrippableFormat, stripMetadata } from './strip-metadata.ts';

/** The transforms this module applies, in the order it applies them (the scheduler's TRANSFORMS). */
export const PRIVACY_TRANSFORMS = ['strip-metadata', 'blur-faces'] as const;
export type PrivacyTransform = (typeof PRIVACY_TRANSFORMS)[number];

export type PrivacyDataKind = 'image' | 'audio';

export interface PrivacyOptions {
  /** Bounds the face detection run by 'blur-faces'. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PrivacyResult {
  bytes: Buffer;
  /** The transforms that changed or checked the data, in the order applied ('blur-faces' on audio is not one). */
  applied: PrivacyTransform[];
  ms: number;
}

export interface PrivacyTransforms {
  /**
   * Applies `transforms` to `bytes`. Throws EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED / EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED
   * when the bytes are not the kind said, EDGE_ERR_INTERNAL for a transform this module does not
   * know (never silently skipped: the data would leave untransformed), and the codes of
   * stripMetadata and the face blur.
   */
  apply(transforms: readonly PrivacyTransform[], bytes: Uint8Array, kind: PrivacyDataKind, options?: PrivacyOptions): Promise<PrivacyResult>;
}

export interface PrivacyTransformsDeps {
  vision: VisionTasks;
  limits: DecodeLimits;
}

export function createPrivacyTransforms({ vision, limits }: PrivacyTransformsDeps): PrivacyTransforms {
  const blurFaces = createFaceBlur(vision, limits);
  return {
    async apply(transforms, bytes, kind, options = {}) {
      const started = performance.now();
      const unknown = transforms.find((transform) => !(PRIVACY_TRANSFORMS as readonly string[]).includes(transform));
      if (unknown !== undefined) throw new EdgeError('EDGE_ERR_INTERNAL', `unknown privacy transform ${JSON.stringify(unknown)}`);
      throwIfCancelled(options.signal);
      checkKind(bytes, kind);

      let current = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const applied: PrivacyTransform[] = [];
      if (transforms.includes('strip-metadata')) {
        current = (await stripMetadata(current, { maxPixels: limits.maxPixels })).bytes;
        applied.push('strip-metadata');
      }
      // Faces are only in pictures: asked of audio, there is nothing to do and nothing to claim.
      if (transforms.includes('blur-faces') && kind === 'image') {
        current = (await blurFaces(current, options)).bytes;
        applied.push('blur-faces');
      }
      return { bytes: current, applied, ms: performance.now() - started };
    },
  };
}

/** The bytes must be what the caller says they are: a WAV passed as an image would skip the face blur. */
function checkKind(bytes: Uint8Array, kind: PrivacyDataKind): void {
  if (!(bytes instanceof Uint8Array)) throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `data must be bytes, got ${typeof bytes}`);
  if (bytes.length === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', `the ${kind} is empty`);
  const format = sniffStrippableFormat(bytes);
  if (kind === 'audio' && format !== 'wav') {
    throw new EdgeError('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', `audio must be a RIFF/WAVE file, got ${format ?? `bytes ${Buffer.from(bytes.subarray(0, 4)).toString('hex')}`}`);
  }
  if (kind === 'image' && (format === undefined || format === 'wav')) {
    throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `image must be JPEG, PNG or WebP, got ${format ?? `bytes ${Buffer.from(bytes.subarray(0, 4)).toString('hex')}`}`);
  }
}

export { createFaceBlur, FACE_BLUR_THRESHOLD, type FaceBlur, type FaceBlurOptions, type FaceBlurResult } from './blur-faces.ts';
export { sniffStrippableFormat, stripMetadata, type StripOptions, type StrippableFormat, type StrippedData } from './strip-metadata.ts';
