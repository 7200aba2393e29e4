/**
 * The camera stream wire protocol as the device sees it (the node's side lives in services/streams):
 * topic names, the WebSocket path, and the result JSON checked field by field, because a
 * simulator that trusted malformed answers would report numbers that mean nothing.
 */
import type { Box, DefectRegion, TaskTimings } from '../../core/contracts.ts';
import type { FrameErrorMessage, FrameResultMessage } from '../../streams/messages.ts';

/** 1-64 of [A-Za-z0-9_.-]: safe in a topic level and a URL path segment. */
export const CAMERA_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export const topics = {
  frames: (cameraId: string) => `mec/cameras/${cameraId}/frames`,
  results: (cameraId: string) => `mec/cameras/${cameraId}/results`,
  alerts: (cameraId: string) => `mec/cameras/${cameraId}/alerts`,
};

/** ws://host:port/v1/streams/{cameraId}?surface=NAME from the base URL the user gave. */
export function streamUrl(base: string, cameraId: string, surface: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/streams/${encodeURIComponent(cameraId)}`;
  url.search = new URLSearchParams({ surface }).toString();
  return url.toString();
}

/** The optional text message before a binary frame on the WebSocket. */
export interface FrameHeader {
  frame_id: string;
  captured_at: number;
}

/** The wire shapes are the node's own (services/streams/messages.ts): one definition for both ends. */
export type ResultRegion = DefectRegion;
export type InspectionResult = FrameResultMessage;
export type StreamError = FrameErrorMessage;

export type StreamMessage = { kind: 'result'; result: InspectionResult } | { kind: 'error'; error: StreamError } | { kind: 'malformed'; reason: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isBox(value: unknown): value is Box {
  return isObject(value) && isFiniteNumber(value.x) && isFiniteNumber(value.y) && isFiniteNumber(value.width) && isFiniteNumber(value.height);
}

function isRegion(value: unknown): value is ResultRegion {
  return isObject(value) && isBox(value.box) && isFiniteNumber(value.score);
}

function isTimings(value: unknown): value is TaskTimings {
  return isObject(value) && ['decode_ms', 'queue_ms', 'infer_ms', 'total_ms'].every((key) => isFiniteNumber(value[key]));
}

/** Parses one message from the node; anything that is not a well-formed result or error is 'malformed'. */
export function parseStreamMessage(text: string): StreamMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (!isObject(value)) return { kind: 'malformed', reason: 'not a JSON object' };
  if (typeof value.camera_id !== 'string') return { kind: 'malformed', reason: 'camera_id is not a string' };
  if (value.error !== undefined) {
    const error = value.error;
    if (!isObject(error) || typeof error.code !== 'string' || typeof error.message !== 'string') {
      return { kind: 'malformed', reason: 'error is not {code, message}' };
    }
    return {
      kind: 'error',
      error: {
        camera_id: value.camera_id,
        frame_id: typeof value.frame_id === 'string' ? value.frame_id : null,
        captured_at: isFiniteNumber(value.captured_at) ? value.captured_at : null,
        error: { code: error.code, message: error.message },
      },
    };
  }
  const problems: string[] = [];
  if (typeof value.frame_id !== 'string') problems.push('frame_id');
  if (!isFiniteNumber(value.captured_at)) problems.push('captured_at');
  if (typeof value.surface !== 'string') problems.push('surface');
  if (typeof value.defective !== 'boolean') problems.push('defective');
  if (!isFiniteNumber(value.score)) problems.push('score');
  if (!isFiniteNumber(value.threshold)) problems.push('threshold');
  if (!Array.isArray(value.regions) || !value.regions.every(isRegion)) problems.push('regions');
  if (!isTimings(value.timings)) problems.push('timings');
  if (!isFiniteNumber(value.frame_to_result_ms)) problems.push('frame_to_result_ms');
  if (!Number.isInteger(value.dropped) || (value.dropped as number) < 0) problems.push('dropped');
  if (problems.length > 0) return { kind: 'malformed', reason: `bad or missing ${problems.join(', ')}` };
  return { kind: 'result', result: value as unknown as InspectionResult };
}
