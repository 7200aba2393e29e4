/**
 * Every error that reaches the HTTP edge becomes an EdgeError with one of our codes, then one
 * response whose status comes from the one table (error-status.ts). Two body shapes:
 *   /v1 and the rest: {"error": {"code", "message", "details"?}}
 *   /v2 (Open Inference Protocol): {"error": "<message>", "code": "<CODE>"}
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EdgeError, type ErrorCode } from '../core/errors.ts';
import { DEFAULT_RETRY_AFTER_SECONDS, statusOf } from './error-status.ts';

/** fastify's and @fastify/multipart's own error codes, translated to ours. */
const FRAMEWORK_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'EDGE_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
  FST_ERR_CTP_INVALID_TYPE: 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
  FST_ERR_CTP_EMPTY_TYPE: 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EDGE_ERR_BODY_EMPTY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'EDGE_ERR_JSON_INVALID',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_ERR_BAD_URL: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_ERR_MAX_PARAM_LENGTH: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_ERR_ASYNC_CONSTRAINT: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_ERR_NOT_FOUND: 'EDGE_ERR_ROUTE_NOT_FOUND',
  FST_REQ_FILE_TOO_LARGE: 'EDGE_ERR_BODY_TOO_LARGE',
  FST_FILES_LIMIT: 'EDGE_ERR_BODY_TOO_LARGE',
  FST_PARTS_LIMIT: 'EDGE_ERR_BODY_TOO_LARGE',
  FST_FIELDS_LIMIT: 'EDGE_ERR_BODY_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
  FST_PROTO_VIOLATION: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_INVALID_JSON_FIELD_ERROR: 'EDGE_ERR_REQUEST_MALFORMED',
  FST_MP_PREMATURE_CLOSE: 'EDGE_ERR_REQUEST_MALFORMED',
};

/** When a framework error has no code we know, its status still says what kind it was. */
const CODE_BY_FRAMEWORK_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'EDGE_ERR_REQUEST_MALFORMED',
  404: 'EDGE_ERR_ROUTE_NOT_FOUND',
  408: 'EDGE_ERR_REQUEST_TIMEOUT',
  413: 'EDGE_ERR_BODY_TOO_LARGE',
  415: 'EDGE_ERR_CONTENT_TYPE_UNSUPPORTED',
};

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
  validation?: unknown;
  validationContext?: unknown;
}

function validationCode(context: unknown): ErrorCode {
  if (context === 'querystring') return 'EDGE_ERR_QUERY_INVALID';
  if (context === 'params') return 'EDGE_ERR_MODEL_NAME_INVALID';
  if (context === 'body') return 'EDGE_ERR_V2_REQUEST_INVALID';
  return 'EDGE_ERR_REQUEST_MALFORMED';
}

/** Any thrown value as an EdgeError; what is not foreseen becomes EDGE_ERR_INTERNAL. */
export function toHttpEdgeError(error: unknown): EdgeError {
  if (error instanceof EdgeError) return error;
  if (error === null || typeof error !== 'object') {
    return new EdgeError('EDGE_ERR_INTERNAL', String(error));
  }
  const candidate = error as FrameworkError;
  const message = typeof candidate.message === 'string' ? candidate.message : 'request failed';
  if (candidate.code === 'FST_ERR_VALIDATION' || candidate.validation !== undefined) {
    return new EdgeError(validationCode(candidate.validationContext), message, { cause: error });
  }
  if (typeof candidate.code === 'string') {
    const mapped = FRAMEWORK_CODES[candidate.code];
    if (mapped !== undefined) return new EdgeError(mapped, message, { cause: error });
  }
  // JSON syntax errors from fastify's own JSON parser carry statusCode 400.
  if (error instanceof SyntaxError && candidate.statusCode === 400) {
    return new EdgeError('EDGE_ERR_JSON_INVALID', message, { cause: error });
  }
  if (typeof candidate.statusCode === 'number' && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    const code = CODE_BY_FRAMEWORK_STATUS[candidate.statusCode] ?? 'EDGE_ERR_REQUEST_MALFORMED';
    return new EdgeError(code, message, { cause: error });
  }
  return new EdgeError('EDGE_ERR_INTERNAL', message, { cause: error });
}

export type ErrorBodyStyle = 'v1' | 'v2';

export function errorStyleOf(url: string): ErrorBodyStyle {
  return url === '/v2' || url.startsWith('/v2/') || url.startsWith('/v2?') ? 'v2' : 'v1';
}

export function errorBody(error: EdgeError, style: ErrorBodyStyle, message: string): Record<string, unknown> {
  if (style === 'v2') return { error: message, code: error.code };
  return {
    error: {
      code: error.code,
      message,
      ...(error.details === undefined ? {} : { details: error.details }),
    },
  };
}

/** Sends the one error response; internal failures are logged and their message is not leaked. */
export function sendError(request: FastifyRequest, reply: FastifyReply, thrown: unknown): FastifyReply {
  const error = toHttpEdgeError(thrown);
  const status = statusOf(error.code);
  let message = error.message;
  if (status >= 500 && error.code === 'EDGE_ERR_INTERNAL') {
    request.log.error({ err: thrown }, 'internal error');
    message = `internal error (request ${request.id})`;
  } else if (status >= 500) {
    request.log.warn({ code: error.code, msg: error.message }, 'request failed');
  }
  if (status === 503) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS))));
  }
  // A body we refused part-way must not be read any further on this connection.
  if (status === 413 || status === 408) reply.header('connection', 'close');
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(error, errorStyleOf(request.url), message));
}
