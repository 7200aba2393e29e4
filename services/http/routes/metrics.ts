/** GET /metrics: the Prometheus exposition of the node's one registry. */
import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from '../deps.ts';

export async function metricsRoutes(app: FastifyInstance, { deps }: RouteOptions): Promise<void> {
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics (Triton nv_inference_* names, phase histograms, HTTP, pool, process)',
      tags: ['operations'],
      produces: ['text/plain'],
      response: { 200: { type: 'string' } },
    },
  }, async (_request, reply) => {
    reply.type(deps.metrics.contentType);
    return deps.metrics.render();
  });
}
