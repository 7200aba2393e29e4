/**
 * The ONE table from error code to HTTP status. Every code of ERROR_CODES must appear (the type
 * enforces it); test/http/error-docs.test.ts keeps this table, the code list and docs/errors.md
 * in step. Anything that is not a known code answers 500 EDGE_ERR_INTERNAL.
 */
import { isErrorCode, type ErrorCode } from '../core/errors.ts';

export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  // Request bodies and their transport
  EDGE_ERR_BODY_EMPTY: 400,
  EDGE_ERR_BODY_TOO_LARGE: 413,
  EDGE_ERR_CONTENT_TYPE_UNSUPPORTED: 415,
  EDGE_ERR_MULTIPART_FIELD_MISSING: 400,
  EDGE_ERR_REQUEST_TIMEOUT: 408,
  EDGE_ERR_QUERY_INVALID: 400,
  EDGE_ERR_ROUTE_NOT_FOUND: 404,
  EDGE_ERR_ADMIN_UNAUTHORIZED: 401,
  EDGE_ERR_ADMIN_FORBIDDEN: 403,
  EDGE_ERR_REQUEST_MALFORMED: 400,
  // Images
  EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED: 415,
  EDGE_ERR_IMAGE_CORRUPT: 422,
  EDGE_ERR_IMAGE_TOO_LARGE: 413,
  // JSON and the Open Inference Protocol
  EDGE_ERR_JSON_INVALID: 400,
  EDGE_ERR_JSON_TOO_DEEP: 400,
  EDGE_ERR_V2_REQUEST_INVALID: 400,
  EDGE_ERR_V2_DATATYPE_UNKNOWN: 400,
  EDGE_ERR_V2_SHAPE_INVALID: 400,
  EDGE_ERR_V2_DATA_MISMATCH: 400,
  EDGE_ERR_V2_TENSOR_NAME_INVALID: 400,
  EDGE_ERR_V2_BINARY_INVALID: 400,
  EDGE_ERR_V2_OUTPUT_UNKNOWN: 400,
  // Models and the repository
  EDGE_ERR_MODEL_NAME_INVALID: 400,
  EDGE_ERR_MODEL_NOT_FOUND: 404,
  EDGE_ERR_MODEL_VERSION_NOT_FOUND: 404,
  EDGE_ERR_MODEL_NOT_READY: 503,
  EDGE_ERR_MODEL_LOAD_FAILED: 500,
  EDGE_ERR_MODEL_CHECKSUM_MISMATCH: 500,
  EDGE_ERR_MODEL_CARD_INVALID: 500,
  EDGE_ERR_MODEL_UNSUITABLE: 400,
  // Defect inspection and camera streams
  EDGE_ERR_SURFACE_NOT_FOUND: 404,
  EDGE_ERR_STREAM_CAMERA_ID_INVALID: 400,
  EDGE_ERR_STREAM_METADATA_INVALID: 400,
  EDGE_ERR_STREAM_FRAME_TOO_LARGE: 413,
  EDGE_ERR_STREAM_TOO_MANY_CAMERAS: 503,
  // Runtime
  EDGE_ERR_QUEUE_FULL: 503,
  EDGE_ERR_QUEUE_TIMEOUT: 503,
  EDGE_ERR_DEADLINE_EXCEEDED: 504,
  // nginx's "client closed request": only logs and metrics see it, the client has gone.
  EDGE_ERR_REQUEST_CANCELLED: 499,
  EDGE_ERR_INFERENCE_FAILED: 500,
  EDGE_ERR_WORKER_CRASHED: 503,
  EDGE_ERR_SHUTTING_DOWN: 503,
  // Configuration
  EDGE_ERR_CONFIG_INVALID: 500,
  EDGE_ERR_INTERNAL: 500,
});

/** Seconds a 503 tells the client to wait when the error itself names none. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function statusOf(code: string): number {
  return isErrorCode(code) ? STATUS_BY_CODE[code] : 500;
}
