/**
 * What a camera sends and what it gets back, the same over MQTT and WebSocket (docs/streams.md).
 * Field names are snake_case like the task timings they carry.
 */
import type { DefectRegion, InspectResult, TaskTimings } from '../core/contracts.ts';
import { EdgeError, toEdgeError } from '../core/errors.ts';

export type StreamTransport = 'mqtt' | 'websocket';

/** One frame as a transport accepted it. */
export interface CameraFrame {
  frameId: string;
  /** Milliseconds since the epoch, from the camera (else the arrival time). */
  capturedAt: number;
  surface: string;
  bytes: Uint8Array;
}

/** On the answer to a teach-in frame: the camera is collecting defect-free frames (docs/streams.md). */
export interface TeachInProgress {
  state: 'collecting';
  /** Frames collected so far, this one included; the frame with frames === needed completes it. */
  frames: number;
  needed: number;
}

/** An inspection as a camera's answer reports it: with what the camera's calibration did to it. */
export interface CameraResult extends InspectResult {
  /** The frame was a teach-in frame: declared defect-free, never an alert. */
  teachIn?: TeachInProgress;
  /** The frame was judged by the camera's calibrated threshold (in `threshold`). */
  calibrated?: boolean;
}

export interface FrameResultMessage {
  camera_id: string;
  frame_id: string;
  captured_at: number;
  surface: string;
  defective: boolean;
  score: number;
  threshold: number;
  regions: DefectRegion[];
  timings: TaskTimings;
  /** Capture to result, as the node's clock sees it. */
  frame_to_result_ms: number;
  /** Frames of this camera superseded (not inspected) since the previous result. */
  dropped: number;
  /** Only on teach-in frames. */
  calibration?: TeachInProgress;
  /** Only when `threshold` is the camera's calibrated one. */
  calibrated?: true;
}

export interface FrameErrorMessage {
  camera_id: string;
  frame_id: string | null;
  captured_at: number | null;
  error: { code: string; message: string };
}

export type CameraMessage = FrameResultMessage | FrameErrorMessage;

const FRAME_ID = /^[\x21-\x7e]{1,128}$/;

/** EDGE_ERR_STREAM_METADATA_INVALID unless the frame id is 1-128 printable ASCII characters. */
export function checkFrameId(value: string): string {
  if (!FRAME_ID.test(value)) throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'frame id must be 1-128 printable ASCII characters without spaces');
  return value;
}

/** Milliseconds since the epoch: a non-negative integer (given as a number or a decimal string). */
export function parseCapturedAt(value: unknown): number {
  const parsed = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 0) {
    throw new EdgeError('EDGE_ERR_STREAM_METADATA_INVALID', 'captured-at must be milliseconds since the epoch (a non-negative integer)');
  }
  return parsed;
}

export function resultMessage(cameraId: string, frame: CameraFrame, result: CameraResult, now: number, dropped: number): FrameResultMessage {
  return {
    camera_id: cameraId,
    frame_id: frame.frameId,
    captured_at: frame.capturedAt,
    surface: result.surface,
    defective: result.defective,
    score: result.score,
    threshold: result.threshold,
    regions: result.regions,
    timings: result.timings,
    frame_to_result_ms: Math.round((now - frame.capturedAt) * 100) / 100,
    dropped,
    ...(result.teachIn === undefined ? {} : { calibration: result.teachIn }),
    ...(result.calibrated ? { calibrated: true as const } : {}),
  };
}

export function errorMessage(cameraId: string, frame: { frameId?: string | undefined; capturedAt?: number } | undefined, error: unknown): FrameErrorMessage {
  const edge = toEdgeError(error);
  return {
    camera_id: cameraId,
    frame_id: frame?.frameId ?? null,
    captured_at: frame?.capturedAt ?? null,
    error: { code: edge.code, message: edge.message },
  };
}

export function isErrorMessage(message: CameraMessage): message is FrameErrorMessage {
  return 'error' in message;
}

/** A defective frame that is not a teach-in frame (those are declared defect-free by the operator). */
export function isAlert(message: CameraMessage): boolean {
  return !isErrorMessage(message) && message.defective && message.calibration === undefined;
}
