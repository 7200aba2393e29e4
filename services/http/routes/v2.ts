/**
 * The Open Inference Protocol routes share one encapsulation context: bodies arrive as raw bytes
 * whatever their content type (JSON, or JSON + binary tensors), and the V2 codec parses them with
 * its own depth and prototype guards instead of fastify's JSON parser.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from '../deps.ts';
import { acceptRawBodies } from '../raw-body.ts';
import { v2InferRoutes } from './v2-infer.ts';
import { v2RepositoryRoutes } from './v2-repository.ts';
import { v2ServerRoutes } from './v2-server.ts';

export async function v2Routes(app: FastifyInstance, options: RouteOptions): Promise<void> {
  acceptRawBodies(app, ['*'], options.config.server.bodyLimitBytes);
  await app.register(v2ServerRoutes, options);
  await app.register(v2InferRoutes, options);
  await app.register(v2RepositoryRoutes, options);
}
