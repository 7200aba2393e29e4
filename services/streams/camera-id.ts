/**
 * Camera ids name MQTT topic levels and WebSocket paths, and label metrics: short and plain.
 */
import { EdgeError } from '../core/errors.ts';

const CAMERA_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidCameraId(value: string): boolean {
  return CAMERA_ID.test(value) && value !== '.' && value !== '..';
}

/** EDGE_ERR_STREAM_CAMERA_ID_INVALID unless `value` is 1-64 of A-Z a-z 0-9 _ . - (not "." or ".."). */
export function assertCameraId(value: string): void {
  if (!isValidCameraId(value)) {
    const shown = value.length > 64 ? `${value.slice(0, 64)}...` : value;
    throw new EdgeError('EDGE_ERR_STREAM_CAMERA_ID_INVALID', `camera id ${JSON.stringify(shown)} must be 1-64 characters of A-Z a-z 0-9 _ . -`);
  }
}
