/**
 * JSON schemas shared by routes: they validate query strings, shape /v1 responses exactly (fields
 * not listed are dropped by the serializer) and document every route in the OpenAPI at /docs.
 */
import type { SwaggerTransform } from '@fastify/swagger';

export const V1_ERROR = {
  type: 'object',
  description: 'Error: branch on `code` (docs/errors.md), not on the message',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const V2_ERROR = {
  type: 'object',
  description: 'Open Inference Protocol error, plus our stable `code` (docs/errors.md)',
  properties: { error: { type: 'string' }, code: { type: 'string' } },
  required: ['error', 'code'],
} as const;

export const BOX = {
  type: 'object',
  description: 'Pixels of the original image, top-left origin',
  properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' } },
  required: ['x', 'y', 'width', 'height'],
} as const;

export const TIMINGS = {
  type: 'object',
  properties: {
    decode_ms: { type: 'number' },
    queue_ms: { type: 'number' },
    infer_ms: { type: 'number' },
    total_ms: { type: 'number' },
  },
  required: ['decode_ms', 'queue_ms', 'infer_ms', 'total_ms'],
} as const;

export const IMAGE_BODY = {
  description:
    'The image itself (image/jpeg, image/png, image/webp or application/octet-stream), or multipart/form-data with the file in field `image`',
  type: 'string',
  format: 'binary',
} as const;

export const TENSOR_METADATA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    datatype: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer' }, description: '-1 = variable dimension' },
  },
  required: ['name', 'datatype', 'shape'],
} as const;

export const MODEL_PARAMS = {
  type: 'object',
  properties: { model: { type: 'string', description: 'Model name' } },
  required: ['model'],
} as const;

export const MODEL_VERSION_PARAMS = {
  type: 'object',
  properties: { model: { type: 'string', description: 'Model name' }, version: { type: 'string', description: 'Model version' } },
  required: ['model', 'version'],
} as const;

/** Per-route: put a body schema into the OpenAPI only, for bodies the route parses itself. */
export function documentedBody(body: Record<string, unknown>): { swaggerTransform: SwaggerTransform } {
  return { swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body }, url }) };
}

/** Where the request ran and why (every placed answer carries it; docs/placement.md). */
export const PLACEMENT = {
  type: 'object',
  properties: {
    tier: { type: 'string', enum: ['device', 'mec', 'cloud'] },
    model: { type: 'string' },
    variant: { type: 'string' },
    reason: { type: 'string' },
    predicted_ms: { type: 'number' },
    actual_ms: { type: 'number' },
    escalated: { type: 'boolean' },
    alternatives: {
      type: 'array',
      items: {
        type: 'object',
        properties: { tier: { type: 'string' }, model: { type: 'string' }, predicted_ms: { type: 'number' }, rejected_because: { type: 'string' } },
        required: ['tier', 'rejected_because'],
      },
    },
    policy_version: { type: 'string' },
    data_class: { type: 'string' },
    transforms: { type: 'array', items: { type: 'string' } },
    hard_example: { type: 'boolean' },
    escalation: {
      type: 'object',
      properties: { tier: { type: 'string' }, model: { type: 'string' }, outcome: { type: 'string' }, because: { type: 'string' } },
      required: ['tier', 'model', 'outcome'],
    },
  },
  required: ['tier', 'model', 'variant', 'reason', 'predicted_ms', 'actual_ms', 'escalated', 'alternatives', 'policy_version'],
} as const;

/** Adds the placement member to a task answer's schema. */
export function withPlacement<T extends { properties: Record<string, unknown>; required: readonly string[] }>(schema: T) {
  return { ...schema, properties: { ...schema.properties, placement: PLACEMENT }, required: [...schema.required, 'placement'] };
}
