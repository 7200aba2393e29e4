/**
 * POST /v1/inspect?surface=NAME: an image of a surface in (raw body or multipart field `image`, any
 * size: the task tiles it), defect verdict, score and regions out. GET /v1/inspect/surfaces lists
 * what the loaded models can inspect.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from '../deps.ts';
import { readRequestMeta } from '../../dispatch/request-meta.ts';
import { acceptImageBodies, IMAGE_CONTENT_TYPES, readImage } from '../image-body.ts';
import { clientGoneSignal } from '../request-signal.ts';
import { BOX, documentedBody, IMAGE_BODY, TIMINGS, V1_ERROR, withPlacement } from '../schemas.ts';

const QUERY = {
  type: 'object',
  properties: {
    surface: { type: 'string', minLength: 1, maxLength: 256, description: 'The surface in the image (GET /v1/inspect/surfaces)' },
    threshold: { type: 'number', minimum: 0, maximum: 1, description: 'Image-level decision threshold (default: the surface\'s, from the model card)' },
  },
  required: ['surface'],
  additionalProperties: false,
} as const;

const INSPECT_RESPONSE = {
  type: 'object',
  properties: {
    surface: { type: 'string' },
    model: { type: 'string' },
    version: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    defective: { type: 'boolean' },
    score: { type: 'number', description: 'Image-level defect probability in [0, 1]' },
    threshold: { type: 'number' },
    regions: {
      type: 'array',
      items: { type: 'object', properties: { box: BOX, score: { type: 'number' } }, required: ['box', 'score'] },
      description: 'Where the defects are, in image pixels, strongest first (empty when not defective)',
    },
    timings: TIMINGS,
  },
  required: ['surface', 'model', 'version', 'width', 'height', 'defective', 'score', 'threshold', 'regions', 'timings'],
} as const;

const SURFACES_RESPONSE = {
  type: 'object',
  properties: {
    surfaces: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          model: { type: 'string' },
          version: { type: 'string' },
          threshold: { type: 'number' },
          falseAlarmRate: { type: ['number', 'null'] },
        },
        required: ['name', 'model', 'version', 'threshold', 'falseAlarmRate'],
      },
    },
  },
  required: ['surfaces'],
} as const;

export async function inspectRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const bodyLimit = config.server.bodyLimitBytes;
  await acceptImageBodies(app, bodyLimit);

  app.get('/v1/inspect/surfaces', { schema: { summary: 'Surfaces the loaded defect models inspect', tags: ['inspection'], response: { 200: SURFACES_RESPONSE } } }, async () => ({
    surfaces: deps.inspection.surfaces(),
  }));

  app.post<{ Querystring: { surface: string; threshold?: number } }>(
    '/v1/inspect',
    {
      bodyLimit,
      config: documentedBody(IMAGE_BODY),
      schema: {
        summary: 'Inspect an image of a surface for defects',
        tags: ['inspection'],
        consumes: [...IMAGE_CONTENT_TYPES, 'multipart/form-data'],
        querystring: QUERY,
        response: { 200: withPlacement(INSPECT_RESPONSE), 400: V1_ERROR, 403: V1_ERROR, 404: V1_ERROR, 413: V1_ERROR, 415: V1_ERROR, 422: V1_ERROR, 502: V1_ERROR, 503: V1_ERROR, 504: V1_ERROR },
      },
    },
    async (request, reply) => {
      const { surface, threshold } = request.query;
      const meta = readRequestMeta(request.headers);
      const image = await readImage(request, bodyLimit);
      const params = { surface, ...(threshold === undefined ? {} : { threshold }) };
      const { result, placement } = await deps.dispatch.run({ task: 'inspect', bytes: image, params }, meta, clientGoneSignal(reply));
      reply.header('x-placement-tier', placement.tier);
      return { ...result, placement };
    },
  );
}
