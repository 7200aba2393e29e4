/**
 * The vision task layer: the only importer of sharp. Other layers call createVisionTasks and see
 * only the VisionTasks contract.
 */
import type { ModelRepository, VisionTasks } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import { createVisionContext } from './context.ts';
import { createDetect } from './detect.ts';
import { createFaces } from './faces.ts';

export interface VisionTasksDeps {
  repository: ModelRepository;
  config: Readonly<Config>;
}

export function createVisionTasks({ repository, config }: VisionTasksDeps): VisionTasks {
  const context = createVisionContext(repository, config);
  return { detect: createDetect(context), faces: createFaces(context) };
}

export { decodeImage, openImage, sniffImageFormat, type DecodedImage, type DecodeLimits, type ImageFormat, type ImageSource } from './image.ts';
export { DETECTOR_MODELS, EXPRESSION_MODEL, FACE_DETECTOR_MODEL } from './models.ts';
