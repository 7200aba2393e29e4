/**
 * POST /v1/vision/detect and POST /v1/vision/faces: an image in (raw body or multipart field
 * `image`), detections out. The body is always a Buffer here: user strings never reach the
 * decoder (a string given to sharp() would be a file path).
 */
import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from '../deps.ts';
import { assertModelName } from '../../registry/model-name.ts';
import { acceptImageBodies, IMAGE_CONTENT_TYPES, readImage } from '../image-body.ts';
import { clientGoneSignal } from '../request-signal.ts';
import { BOX, documentedBody, IMAGE_BODY, TIMINGS, V1_ERROR, withPlacement } from '../schemas.ts';
import { readRequestMeta } from '../../dispatch/request-meta.ts';

const QUERY = {
  type: 'object',
  properties: {
    // Length and characters are checked by assertModelName (EDGE_ERR_MODEL_NAME_INVALID, as on /v2).
    model: { type: 'string', description: 'Detector model (default: models.defaultDetector)' },
    threshold: { type: 'number', minimum: 0, maximum: 1, description: 'Lowest score returned (default: the model card)' },
    max: { type: 'integer', minimum: 1, maximum: 1000, description: 'Most detections returned (default: the model card)' },
  },
  additionalProperties: false,
} as const;

const ERRORS = { 400: V1_ERROR, 413: V1_ERROR, 415: V1_ERROR, 422: V1_ERROR, 503: V1_ERROR };
const PLACED_ERRORS = { ...ERRORS, 403: V1_ERROR, 502: V1_ERROR, 504: V1_ERROR };

/** The answer of a vision route: the model, the image's size, a list of findings, timings. */
function imageResult(listName: string, item: Record<string, unknown>) {
  return {
    type: 'object',
    properties: {
      model: { type: 'string' },
      version: { type: 'string' },
      width: { type: 'integer' },
      height: { type: 'integer' },
      [listName]: { type: 'array', items: item },
      timings: TIMINGS,
    },
    required: ['model', 'version', 'width', 'height', listName, 'timings'],
  } as const;
}

const DETECT_RESPONSE = imageResult('detections', {
  type: 'object',
  properties: { label: { type: 'string' }, score: { type: 'number' }, box: BOX },
  required: ['label', 'score', 'box'],
});

const FACES_RESPONSE = imageResult('faces', {
  type: 'object',
  properties: {
    score: { type: 'number' },
    box: BOX,
    expression: { type: 'object', additionalProperties: { type: 'number' }, description: 'Probability per expression' },
    dominant: { type: 'string' },
  },
  required: ['score', 'box', 'expression', 'dominant'],
});

interface VisionQuery {
  model?: string;
  threshold?: number;
  max?: number;
}

export async function visionRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const bodyLimit = config.server.bodyLimitBytes;
  await acceptImageBodies(app, bodyLimit);

  app.post<{ Querystring: VisionQuery }>(
    '/v1/vision/detect',
    {
      bodyLimit,
      config: documentedBody(IMAGE_BODY),
      schema: {
        summary: 'Detect objects in an image, on the tier placement picks (headers: docs/placement.md)',
        tags: ['vision'],
        consumes: [...IMAGE_CONTENT_TYPES, 'multipart/form-data'],
        querystring: QUERY,
        response: { 200: withPlacement(DETECT_RESPONSE), ...PLACED_ERRORS },
      },
    },
    async (request, reply) => {
      const { model, threshold, max } = request.query;
      if (model !== undefined) assertModelName(model);
      const meta = readRequestMeta(request.headers);
      const image = await readImage(request, bodyLimit);
      const params = { ...(model === undefined ? {} : { model }), ...(threshold === undefined ? {} : { threshold }), ...(max === undefined ? {} : { max }) };
      const { result, placement } = await deps.dispatch.run({ task: 'detect', bytes: image, params }, meta, clientGoneSignal(reply));
      reply.header('x-placement-tier', placement.tier);
      return { ...result, placement };
    },
  );

  app.post<{ Querystring: Omit<VisionQuery, 'model'> }>(
    '/v1/vision/faces',
    {
      bodyLimit,
      config: documentedBody(IMAGE_BODY),
      schema: {
        summary: 'Find faces and their expressions',
        tags: ['vision'],
        consumes: [...IMAGE_CONTENT_TYPES, 'multipart/form-data'],
        querystring: { ...QUERY, properties: { threshold: QUERY.properties.threshold, max: QUERY.properties.max } },
        response: { 200: FACES_RESPONSE, ...ERRORS },
      },
    },
    async (request, reply) => {
      const { threshold, max } = request.query;
      const image = await readImage(request, bodyLimit);
      return deps.vision.faces(image, {
        ...(threshold === undefined ? {} : { threshold }),
        ...(max === undefined ? {} : { max }),
        timeoutMs: config.server.defaultInferTimeoutMs,
        signal: clientGoneSignal(reply),
      });
    },
  );
}
