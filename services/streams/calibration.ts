/**
 * Per-camera threshold calibration ("teach-in", docs/streams.md). A model card's threshold is chosen
 * for a false-alarm rate on the validation frames; a camera looking at another patch of the surface
 * can see many more false alarms with it. The operator shows the camera N defect-free frames, and
 * the camera's threshold is set from their scores.
 *
 * Calibrations are kept per camera id across transports and outlive the camera's stream (an MQTT
 * camera's stream is forgotten when idle, its calibration must not be). They live in memory: a
 * restarted node is back on the cards' thresholds. A calibration applies only to the exact model
 * version it was measured with: after a reload or sync the card's threshold is back and the
 * calibration is reported `stale`.
 */
import type { InspectResult } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';
import { assertCameraId } from './camera-id.ts';
import type { TeachInProgress } from './messages.ts';

export const CALIBRATION_FRAMES = { min: 10, max: 1000, default: 50 } as const;
/** The rate is a share of the calibration frames: (0, MAX], and only as fine as 1 / frames. */
export const CALIBRATION_FALSE_ALARM_RATE = { max: 0.5, default: 0.01 } as const;

/** Above a score by this much: reported scores are rounded to 4 decimals, the decision uses the raw score. */
const ABOVE_SCORE = 1e-4;

const round4 = (value: number): number => Math.round(value * 10_000) / 10_000;

/**
 * The threshold that at most floor(falseAlarmRate * n) of these defect-free scores reach (inspect
 * flags `score >= threshold`): the (k+1)-th largest score plus 1e-4, capped at 1.
 *
 * Why this rule: with n = 50 frames at 1 %, k = 0 and the threshold is just above every good frame
 * seen; a rate finer than 1/n cannot be measured on n frames, so it rounds down to k = 0. The margin
 * of 1e-4 beats the rounding of reported scores (to 4 decimals, off by at most 5e-5 from the raw
 * score the decision uses); the threshold is itself rounded to 4 decimals, which keeps it at least
 * 5e-5 above the score. At the cap of 1 a frame scoring 1 is still flagged: that camera's
 * "good" frames look like defects to the model, and no threshold can hide that.
 */
export function calibratedThreshold(scores: readonly number[], falseAlarmRate: number): number {
  if (scores.length === 0) throw new RangeError('calibratedThreshold needs at least one score');
  if (!(falseAlarmRate >= 0 && falseAlarmRate < 1)) throw new RangeError(`falseAlarmRate must be in [0, 1), got ${falseAlarmRate}`);
  const descending = [...scores].sort((a, b) => b - a);
  // The epsilon keeps products like 0.29 * 100 = 28.999999999999996 from losing a frame.
  const allowed = Math.min(descending.length - 1, Math.floor(falseAlarmRate * descending.length + 1e-9));
  return Math.min(1, round4(descending[allowed]! + ABOVE_SCORE));
}

export interface CalibrationSettings {
  surface: string;
  /** Defect-free frames to collect. */
  frames: number;
  falseAlarmRate: number;
}

/** The model version serving a surface now (undefined: none). */
export type ServingModel = (surface: string) => { model: string; version: string } | undefined;

interface Collecting {
  state: 'collecting';
  settings: CalibrationSettings;
  scores: number[];
  /** Of the first frame scored: a change of model or version restarts the collection. */
  model: string | undefined;
  version: string | undefined;
  startedAt: number;
  /** performance.now() at the start: frames whose inspection began earlier do not count. */
  startedTick: number;
}

interface Calibrated {
  state: 'calibrated';
  settings: CalibrationSettings;
  model: string;
  version: string;
  threshold: number;
  /** The card's threshold the calibration replaces. */
  modelThreshold: number;
  maxScore: number;
  calibratedAt: number;
}

type Calibration = Collecting | Calibrated;

/** A calibration as GET /v1/streams/{cameraId}/calibration shows it (snake_case like the stream API). */
export type CalibrationStatus =
  | {
      camera_id: string;
      state: 'collecting';
      surface: string;
      frames: number;
      needed: number;
      false_alarm_rate: number;
      model: string | null;
      version: string | null;
      started_at: number;
    }
  | {
      camera_id: string;
      /** stale: the model version it was measured with no longer serves the surface; the card's threshold applies. */
      state: 'calibrated' | 'stale';
      surface: string;
      model: string;
      version: string;
      threshold: number;
      model_threshold: number;
      frames: number;
      false_alarm_rate: number;
      max_score: number;
      calibrated_at: number;
      /** Only when stale: what serves the surface now (null: nothing). */
      serving?: { model: string; version: string } | null;
    };

export interface CameraCalibrationsOptions {
  /** At most this many calibrations (streams.maxCameras). */
  maxCameras: number;
  serving: ServingModel;
}

/** EDGE_ERR_STREAM_CALIBRATION_INVALID unless frames and rate are in range. */
export function checkCalibrationSettings(settings: CalibrationSettings): void {
  const { frames, falseAlarmRate } = settings;
  if (!Number.isInteger(frames) || frames < CALIBRATION_FRAMES.min || frames > CALIBRATION_FRAMES.max) {
    throw new EdgeError('EDGE_ERR_STREAM_CALIBRATION_INVALID', `frames must be an integer from ${CALIBRATION_FRAMES.min} to ${CALIBRATION_FRAMES.max}, got ${frames}`);
  }
  if (!(Number.isFinite(falseAlarmRate) && falseAlarmRate > 0 && falseAlarmRate <= CALIBRATION_FALSE_ALARM_RATE.max)) {
    throw new EdgeError('EDGE_ERR_STREAM_CALIBRATION_INVALID', `false_alarm_rate must be a number above 0 and at most ${CALIBRATION_FALSE_ALARM_RATE.max}, got ${falseAlarmRate}`);
  }
}

export class CameraCalibrations {
  readonly #entries = new Map<string, Calibration>();
  readonly #options: CameraCalibrationsOptions;

  constructor(options: CameraCalibrationsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * (Re)starts collecting for a camera, replacing any calibration it had. Throws
   * EDGE_ERR_STREAM_CAMERA_ID_INVALID, EDGE_ERR_STREAM_CALIBRATION_INVALID, and
   * EDGE_ERR_STREAM_TOO_MANY_CAMERAS for a new camera past maxCameras.
   */
  start(cameraId: string, settings: CalibrationSettings): CalibrationStatus {
    assertCameraId(cameraId);
    checkCalibrationSettings(settings);
    const { maxCameras } = this.#options;
    if (!this.#entries.has(cameraId) && this.#entries.size >= maxCameras) {
      throw new EdgeError('EDGE_ERR_STREAM_TOO_MANY_CAMERAS', `the node holds calibrations of ${maxCameras} cameras already (streams.maxCameras); DELETE one no longer used`, {
        retryAfterSeconds: 5,
        details: { maxCameras },
      });
    }
    const entry: Collecting = {
      state: 'collecting',
      settings: { ...settings },
      scores: [],
      model: undefined,
      version: undefined,
      startedAt: Date.now(),
      startedTick: performance.now(),
    };
    this.#entries.set(cameraId, entry);
    return this.#statusOf(cameraId, entry);
  }

  /** The camera's calibration, or undefined. Throws EDGE_ERR_STREAM_CAMERA_ID_INVALID. */
  status(cameraId: string): CalibrationStatus | undefined {
    assertCameraId(cameraId);
    const entry = this.#entries.get(cameraId);
    return entry === undefined ? undefined : this.#statusOf(cameraId, entry);
  }

  /** Forgets the camera's calibration (back to the card's threshold); false when it had none. */
  remove(cameraId: string): boolean {
    assertCameraId(cameraId);
    return this.#entries.delete(cameraId);
  }

  /** The camera's threshold for frames of `surface` inspected by model@version, if calibrated on exactly that. */
  thresholdFor(cameraId: string, surface: string, model: string, version: string): number | undefined {
    const entry = this.#entries.get(cameraId);
    if (entry?.state !== 'calibrated') return undefined;
    return entry.settings.surface === surface && entry.model === model && entry.version === version ? entry.threshold : undefined;
  }

  /**
   * Feeds an inspected frame to the camera's calibration if it is collecting: only frames of its
   * surface whose inspection began after it started count. Returns the teach-in progress the
   * frame's answer carries, or undefined when the frame did not count.
   */
  record(cameraId: string, result: InspectResult, inspectionStartedTick: number): TeachInProgress | undefined {
    const entry = this.#entries.get(cameraId);
    if (entry?.state !== 'collecting' || result.surface !== entry.settings.surface || inspectionStartedTick < entry.startedTick) return undefined;
    if (entry.model !== result.model || entry.version !== result.version) {
      // Scores of different models (or versions) are not on one scale: start over with this one's.
      entry.scores.length = 0;
      entry.model = result.model;
      entry.version = result.version;
    }
    entry.scores.push(result.score);
    const { frames: needed, falseAlarmRate } = entry.settings;
    const progress: TeachInProgress = { state: 'collecting', frames: entry.scores.length, needed };
    if (entry.scores.length >= needed) {
      this.#entries.set(cameraId, {
        state: 'calibrated',
        settings: entry.settings,
        model: result.model,
        version: result.version,
        threshold: calibratedThreshold(entry.scores, falseAlarmRate),
        // No calibration applies while collecting: the frames were judged by the card's threshold.
        modelThreshold: result.threshold,
        maxScore: Math.max(...entry.scores),
        calibratedAt: Date.now(),
      });
    }
    return progress;
  }

  #statusOf(cameraId: string, entry: Calibration): CalibrationStatus {
    const { surface, frames, falseAlarmRate } = entry.settings;
    if (entry.state === 'collecting') {
      return {
        camera_id: cameraId,
        state: 'collecting',
        surface,
        frames: entry.scores.length,
        needed: frames,
        false_alarm_rate: falseAlarmRate,
        model: entry.model ?? null,
        version: entry.version ?? null,
        started_at: entry.startedAt,
      };
    }
    const serving = this.#options.serving(surface);
    const current = serving?.model === entry.model && serving.version === entry.version;
    return {
      camera_id: cameraId,
      state: current ? 'calibrated' : 'stale',
      surface,
      model: entry.model,
      version: entry.version,
      threshold: entry.threshold,
      model_threshold: entry.modelThreshold,
      frames,
      false_alarm_rate: falseAlarmRate,
      max_score: entry.maxScore,
      calibrated_at: entry.calibratedAt,
      ...(current ? {} : { serving: serving === undefined ? null : { model: serving.model, version: serving.version } }),
    };
  }
}
