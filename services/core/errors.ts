/**
 * The error codes of the platform. The code is the contract, the message is not: clients branch on
 * `code`, and errors that cross worker threads or queues are compared by `code`, never by class.
 *
 * HTTP statuses live in one table at the HTTP edge (services/http/error-status.ts); the "how to
 * fix" text lives in docs/errors.md. A test keeps this list, that table and the docs in step.
 */
export const ERROR_CODES = [
  // Request bodies and their transport
  'EDGE_ERR_BODY_EMPTY',
  'EDGE_ERR_BODY_TOO_LARGE',
  'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
  'EDGE_ERR_MULTIPART_FIELD_MISSING',
  'EDGE_ERR_REQUEST_TIMEOUT',
  'EDGE_ERR_QUERY_INVALID',
  'EDGE_ERR_ROUTE_NOT_FOUND',
  'EDGE_ERR_ADMIN_UNAUTHORIZED',
  'EDGE_ERR_ADMIN_FORBIDDEN',
  'EDGE_ERR_SYNC_UNAUTHORIZED',
  'EDGE_ERR_SYNC_FORBIDDEN',
  'EDGE_ERR_REQUEST_MALFORMED',
  // Images
  'EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED',
  'EDGE_ERR_IMAGE_CORRUPT',
  'EDGE_ERR_IMAGE_TOO_LARGE',
  // JSON and the Open Inference Protocol (KServe V2)
  'EDGE_ERR_JSON_INVALID',
  'EDGE_ERR_JSON_TOO_DEEP',
  'EDGE_ERR_V2_REQUEST_INVALID',
  'EDGE_ERR_V2_DATATYPE_UNKNOWN',
  'EDGE_ERR_V2_SHAPE_INVALID',
  'EDGE_ERR_V2_DATA_MISMATCH',
  'EDGE_ERR_V2_TENSOR_NAME_INVALID',
  'EDGE_ERR_V2_BINARY_INVALID',
  'EDGE_ERR_V2_OUTPUT_UNKNOWN',
  // Models and the repository
  'EDGE_ERR_MODEL_NAME_INVALID',
  'EDGE_ERR_MODEL_NOT_FOUND',
  'EDGE_ERR_MODEL_VERSION_NOT_FOUND',
  'EDGE_ERR_MODEL_NOT_READY',
  'EDGE_ERR_MODEL_LOAD_FAILED',
  'EDGE_ERR_MODEL_CHECKSUM_MISMATCH',
  'EDGE_ERR_MODEL_CARD_INVALID',
  'EDGE_ERR_MODEL_UNSUITABLE',
  // Defect inspection and camera streams
  'EDGE_ERR_SURFACE_NOT_FOUND',
  'EDGE_ERR_STREAM_CAMERA_ID_INVALID',
  'EDGE_ERR_DASHBOARD_FRAME_NOT_FOUND',
  'EDGE_ERR_STREAM_METADATA_INVALID',
  'EDGE_ERR_STREAM_FRAME_TOO_LARGE',
  'EDGE_ERR_STREAM_TOO_MANY_CAMERAS',
  'EDGE_ERR_STREAM_CALIBRATION_INVALID',
  'EDGE_ERR_STREAM_CALIBRATION_NOT_FOUND',
  // Audio and speech recognition
  'EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED',
  'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED',
  'EDGE_ERR_AUDIO_HEADER_INVALID',
  'EDGE_ERR_AUDIO_CHANNELS_INVALID',
  'EDGE_ERR_AUDIO_SAMPLE_RATE_INVALID',
  'EDGE_ERR_AUDIO_TRUNCATED',
  'EDGE_ERR_AUDIO_TOO_LONG',
  // Runtime: queues, workers, inference
  'EDGE_ERR_QUEUE_FULL',
  'EDGE_ERR_QUEUE_TIMEOUT',
  'EDGE_ERR_DEADLINE_EXCEEDED',
  'EDGE_ERR_REQUEST_CANCELLED',
  'EDGE_ERR_INFERENCE_FAILED',
  'EDGE_ERR_WORKER_CRASHED',
  'EDGE_ERR_SHUTTING_DOWN',
  // Placement, tiers, links, privacy policy and the audit log
  'EDGE_ERR_HEADER_INVALID',
  'EDGE_ERR_DATA_CLASS_INVALID',
  'EDGE_ERR_PRIVACY_DENIED',
  'EDGE_ERR_PLACEMENT_INFEASIBLE',
  'EDGE_ERR_TIER_UNAVAILABLE',
  'EDGE_ERR_POLICY_INVALID',
  'EDGE_ERR_BLUEPRINT_INVALID',
  'EDGE_ERR_LINK_NOT_FOUND',
  'EDGE_ERR_LINK_SETTINGS_INVALID',
  'EDGE_ERR_TOPOLOGY_UNREACHABLE',
  'EDGE_ERR_AUDIT_LOG_INVALID',
  // Durable offload (jobs on BullMQ), admission per client
  'EDGE_ERR_JOBS_UNAVAILABLE',
  'EDGE_ERR_JOBS_FULL',
  'EDGE_ERR_JOB_NOT_FOUND',
  'EDGE_ERR_IDEMPOTENCY_KEY_INVALID',
  'EDGE_ERR_IDEMPOTENCY_KEY_REUSED',
  'EDGE_ERR_WEBHOOK_INVALID',
  'EDGE_ERR_RATE_LIMITED',
  // Model and policy sync (cloud -> edge)
  'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND',
  'EDGE_ERR_SYNC_VERSION_INVALID',
  'EDGE_ERR_SYNC_UNAVAILABLE',
  // Configuration (at start-up, never from a request)
  'EDGE_ERR_CONFIG_INVALID',
  // Anything not foreseen: always a 500 with this code, never a crash
  'EDGE_ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && KNOWN_CODES.has(value);
}

/** The one error class of the platform: a stable code, a human message, optional details. */
export class EdgeError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  /** Seconds a client should wait before retrying (overload, shutting down). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeError';
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** A plain object that survives structured clone (worker threads) and JSON (queues). */
  toJSON(): SerializedEdgeError {
    return {
      code: this.code,
      message: this.message,
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
    };
  }

  static fromJSON(value: SerializedEdgeError): EdgeError {
    const code = isErrorCode(value.code) ? value.code : 'EDGE_ERR_INTERNAL';
    return new EdgeError(code, value.message, {
      ...(value.details === undefined ? {} : { details: value.details }),
      ...(value.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: value.retryAfterSeconds }),
    });
  }
}

export interface SerializedEdgeError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** The error of a request whose caller cancelled it (the client went away, an AbortSignal fired). */
export function cancelledError(signal: AbortSignal): EdgeError {
  const reason: unknown = signal.reason;
  if (reason instanceof EdgeError) return reason;
  const why = reason instanceof Error ? reason.message : 'aborted';
  return new EdgeError('EDGE_ERR_REQUEST_CANCELLED', `the request was cancelled: ${why}`, { cause: reason });
}

/** Throws cancelledError(signal) when the signal has already fired; work not started is never done. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal);
}

/** Any thrown value as an EdgeError; unknown failures become EDGE_ERR_INTERNAL. */
export function toEdgeError(error: unknown): EdgeError {
  if (error instanceof EdgeError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new EdgeError('EDGE_ERR_INTERNAL', message, { cause: error });
}
