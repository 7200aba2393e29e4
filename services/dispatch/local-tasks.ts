/**
 * Runs a placeable request on this node through the task layer, and says how sure the answer is
 * (for joint inference's hard-example filter):
 *   detect:  the best detection's score (0 when nothing was found: the small model may have missed it)
 *   inspect: the image-level defect score (the entropy filter flags scores near 0.5)
 *   asr:     the mean word confidence (1 for silence: nothing to escalate)
 */
import type { InspectionTasks, SpeechTasks, VisionTasks } from '../core/contracts.ts';
import type { PlacementTask } from '../scheduler/types.ts';
import type { TaskInput } from './task-input.ts';

export interface TaskOutcome {
  result: Record<string, unknown>;
  confidence: number;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export type LocalRunner = (input: TaskInput, model: string, options: RunOptions) => Promise<TaskOutcome>;

export interface LocalTasks {
  run: LocalRunner;
  /** Refuses a request no tier could serve (an unknown surface) before it is placed or sent. */
  check(input: TaskInput): void;
  /** Does this node have `model` loaded for `task` (for an explicitly named model)? */
  serves(task: PlacementTask, model: string): boolean;
}

export function createLocalTasks(tasks: { vision: VisionTasks; inspection: InspectionTasks; speech: SpeechTasks }, loaded: () => ReadonlySet<string>): LocalTasks {
  return {
    async run(input, model, options) {
      const { params } = input;
      if (input.task === 'detect') {
        const result = await tasks.vision.detect(input.bytes, {
          model,
          ...(params.threshold === undefined ? {} : { threshold: params.threshold }),
          ...(params.max === undefined ? {} : { max: params.max }),
          ...options,
        });
        const confidence = result.detections.reduce((best, detection) => Math.max(best, detection.score), 0);
        return { result: result as unknown as Record<string, unknown>, confidence };
      }
      if (input.task === 'inspect') {
        const result = await tasks.inspection.inspect(input.bytes, {
          surface: params.surface ?? '',
          ...(params.threshold === undefined ? {} : { threshold: params.threshold }),
          ...options,
        });
        return { result: result as unknown as Record<string, unknown>, confidence: result.score };
      }
      const result = await tasks.speech.transcribe(input.bytes, options);
      const confidences = result.words.map((word) => word.confidence);
      const confidence = confidences.length === 0 ? 1 : confidences.reduce((sum, value) => sum + value, 0) / confidences.length;
      return { result: result as unknown as Record<string, unknown>, confidence };
    },
    check(input) {
      if (input.task === 'inspect') tasks.inspection.assertSurface(input.params.surface ?? '');
    },
    serves(_task, model) {
      return loaded().has(model);
    },
  };
}
