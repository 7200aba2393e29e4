/**
 * Counts every HTTP request by route pattern and status, and how many are in flight. The count
 * is taken when the response closes, so requests whose client went away are counted too (with
 * the status that was set) and the in-flight gauge never leaks.
 */
import type { FastifyInstance } from 'fastify';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics/metrics.ts';

/** Unmatched URLs share one label: raw URLs would make the label set unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

export function countHttpRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    metrics.httpRequestStarted();
    reply.raw.once('close', () => {
      const route = request.is404 ? UNMATCHED_ROUTE : (request.routeOptions.url ?? UNMATCHED_ROUTE);
      metrics.httpRequestFinished(
        { route, method: request.method, status: reply.raw.statusCode },
        (performance.now() - started) / 1000,
      );
    });
    done();
  });
}
