/**
 * POST /v1/vision/detect and POST /v1/vision/faces: an image in (raw body or multipart field
 * `image`), detections out. The body is always a Buffer here: user strings never reach the
 * decoder (a string given to sharp() would be a file path).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { EdgeError } from '../../core/errors.ts';
import type { RouteOptions } from '../deps.ts';
import { assertModelName } from '../../registry/model-name.ts';
import { acceptRawBodies } from '../raw-body.ts';
import { clientGoneSignal } from '../request-signal.ts';
import { BOX, documentedBody, IMAGE_BODY, TIMINGS, V1_ERROR } from '../schemas.ts';

export const IMAGE_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream'] as const;

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

/** Errors busboy throws for broken multipart carry no code: they are the client's framing. */
function multipartError(error: unknown): unknown {
  if (error instanceof EdgeError) return error;
  const candidate = error as { code?: unknown; statusCode?: unknown };
  if (typeof candidate?.code === 'string' || typeof candidate?.statusCode === 'number') return error;
  return new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `multipart body could not be read: ${(error as Error)?.message ?? error}`);
}

async function readImage(request: FastifyRequest, fileSizeLimit: number): Promise<Buffer> {
  if (!request.isMultipart()) {
    const body = request.body;
    if (body === undefined || body === null || (Buffer.isBuffer(body) && body.byteLength === 0)) {
      throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'send the image as the request body (or multipart field "image")');
    }
    if (!Buffer.isBuffer(body)) throw new EdgeError('EDGE_ERR_CONTENT_TYPE_UNSUPPORTED', 'the body must be an image');
    return body;
  }
  try {
    const file = await request.file({ limits: { fileSize: fileSizeLimit, files: 1, fields: 8, parts: 10, fieldSize: 64 * 1024 } });
    if (file === undefined || file.fieldname !== 'image') {
      throw new EdgeError('EDGE_ERR_MULTIPART_FIELD_MISSING', 'multipart/form-data must carry the image in a file field named "image"');
    }
    const image = await file.toBuffer();
    if (image.byteLength === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'the multipart field "image" is empty');
    return image;
  } catch (error) {
    throw multipartError(error);
  }
}

export async function visionRoutes(app: FastifyInstance, { config, deps }: RouteOptions): Promise<void> {
  const bodyLimit = config.server.bodyLimitBytes;
  acceptRawBodies(app, IMAGE_CONTENT_TYPES, bodyLimit);
  await app.register(multipart, { limits: { fileSize: bodyLimit, files: 1 } });

  app.post<{ Querystring: VisionQuery }>(
    '/v1/vision/detect',
    {
      bodyLimit,
      config: documentedBody(IMAGE_BODY),
      schema: {
        summary: 'Detect objects in an image',
        tags: ['vision'],
        consumes: [...IMAGE_CONTENT_TYPES, 'multipart/form-data'],
        querystring: QUERY,
        response: { 200: DETECT_RESPONSE, ...ERRORS },
      },
    },
    async (request, reply) => {
      const { model, threshold, max } = request.query;
      if (model !== undefined) assertModelName(model);
      const image = await readImage(request, bodyLimit);
      return deps.vision.detect(image, {
        ...(model === undefined ? {} : { model }),
        ...(threshold === undefined ? {} : { threshold }),
        ...(max === undefined ? {} : { max }),
        timeoutMs: config.server.defaultInferTimeoutMs,
        signal: clientGoneSignal(reply),
      });
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
