/**
 * The model variants placement can choose between, per task: which model serves which task, its
 * size class, and its quality figure. Quality figures are the published ones for the task's
 * benchmark (we have no labelled COCO here to measure them again); the size class says which tier
 * a variant suits. A tier serves the variants its configuration lists (config placement.serve).
 */
import type { Config } from '../core/config.ts';
import type { PlacementTask } from '../scheduler/types.ts';

export interface VariantInfo {
  task: PlacementTask;
  /** small: fits a device or a MEC node; large: meant for the cloud. */
  variant: 'small' | 'large';
  /** The task's quality figure, 0..1, and where it comes from. */
  accuracy: number;
  accuracySource: string;
  /** Typical size of the JSON answer, for the downlink share of a prediction. */
  answerBytes: number;
}

export const VARIANTS: Readonly<Record<string, VariantInfo>> = Object.freeze({
  nanodet: {
    task: 'detect',
    variant: 'small',
    accuracy: 0.235,
    accuracySource: 'COCO val2017 mAP of NanoDet-m at 416x416, as published by RangiLyu/nanodet',
    answerBytes: 2_000,
  },
  centernet: {
    task: 'detect',
    variant: 'large',
    accuracy: 0.24,
    accuracySource: 'COCO mAP of mobilenet CenterNet at 512x512 as published by 610265158/mobilenetv3_centernet (0.224-0.234 for its MobileNetV2 models; the MobileNetV3 one is not listed): about NanoDet-m; it sees the image at 512 instead of 416',
    answerBytes: 2_000,
  },
  defect: {
    task: 'inspect',
    variant: 'small',
    accuracy: 0.93,
    accuracySource: 'mean held-out AUROC over the five surfaces of the defect models as the service serves them: defect for brick, the specialists defect-<surface> for the others (npm run eval:inspect: brick 0.99, metal 1.00, textile 0.98, gravel 0.85, grass 0.81)',
    answerBytes: 1_500,
  },
  asr: {
    task: 'asr',
    variant: 'small',
    accuracy: 0.926,
    accuracySource: '1 - held-out WER (7.4%) of models/repository/asr (npm run eval:asr)',
    answerBytes: 1_500,
  },
});

export type ServeTable = Readonly<Record<PlacementTask, readonly string[]>>;

/**
 * What a tier serves when its configuration does not say: a MEC node its default detector (a
 * local topology sets NanoDet, the small one), the cloud the large detector.
 */
export function serveTable(config: Readonly<Config>): ServeTable {
  if (config.placement.serve) return config.placement.serve;
  const detect = config.placement.tier === 'cloud' ? 'centernet' : config.models.defaultDetector;
  return { detect: [detect], inspect: ['defect'], asr: [config.speech.model] };
}

/** Compute-time guess for a variant until a real run replaces it (the order of what bench:vision measured). */
export const COMPUTE_PRIOR_MS: Readonly<Record<string, number>> = Object.freeze({ nanodet: 40, centernet: 50, defect: 30, asr: 150 });

/** The largest answer of the task's variants: the downlink share of a prediction. */
export function answerBytesFor(task: PlacementTask): number {
  const sizes = Object.values(VARIANTS).filter((info) => info.task === task).map((info) => info.answerBytes);
  return sizes.length > 0 ? Math.max(...sizes) : 2_000;
}

/** Transform cost guesses until a real run replaces them (face finding on a photo, bench:placement). */
export const TRANSFORM_PRIOR_MS: Readonly<Record<string, number>> = Object.freeze({ 'strip-metadata': 1, 'blur-faces': 40 });
