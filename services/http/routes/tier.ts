/**
 * GET /v1/tier/status: what this node tells the other tiers on their heartbeat - its load, the
 * model variants it serves with their learned compute times, its policy version, and (a MEC
 * node) its view of the cloud. Cheap by design: the heartbeat's round trip is the link's RTT.
 */
import type { FastifyInstance } from 'fastify';
import type { RouteOptions } from '../deps.ts';

export async function tierRoutes(app: FastifyInstance, { deps }: RouteOptions): Promise<void> {
  app.get('/v1/tier/status', { schema: { summary: 'This tier\'s load, served variants and links, for placement', tags: ['placement'] } }, async () => deps.dispatch.status());
}
