/**
 * The vision task layer (object detection, faces). Other layers call createVisionTasks and see
 * only the VisionTasks contract.
 */
import type { ModelRepository, VisionTasks } from '../../core/contracts.ts';
import type { Config } from '../../core/config.ts';
import type { AdmissionGate } from '../admission.ts';
import { createVisionContext } from './context.ts';
import { createDetect } from './detect.ts';
import { createFaces } from './faces.ts';

export interface VisionTasksDeps {
  repository: ModelRepository;
  config: Readonly<Config>;
  /** The node's admission gate, shared with the other tasks (default: a gate of the vision tasks' own). */
  admission?: AdmissionGate;
}

export function createVisionTasks({ repository, config, admission }: VisionTasksDeps): VisionTasks {
  const context = createVisionContext(repository, config, admission);
  return { detect: createDetect(context), faces: createFaces(context) };
}

export { decodeImage, openImage, sniffImageFormat, type DecodedImage, type DecodeLimits, type ImageFormat, type ImageSource } from '../common/image.ts';
export { DETECTOR_MODELS, EXPRESSION_MODEL, FACE_DETECTOR_MODEL } from './models.ts';
