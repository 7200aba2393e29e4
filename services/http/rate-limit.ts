/**
 * Per-client rate limit on the task routes (config tasks.rateLimit): past `max` requests in
 * `windowMs` a client gets 429 EDGE_ERR_RATE_LIMITED with Retry-After, in our error shape, before
 * its body is read. The client is its x-tenant header when it sends a well-formed one, else its
 * address. Health, readiness, metrics and tier status are never limited: an orchestrator probing
 * an overloaded node must still see it.
 *
 * Why per client on top of the admission gate: the gate protects the node (a fast 503 for everyone
 * when the cores are full); the limit protects clients from each other (one tenant's burst cannot
 * take every place in the gate). @fastify/rate-limit's LocalStore keeps one counter per key with a
 * bounded LRU (cache: 5000 keys by default), so memory does not grow with the number of clients.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions as FastifyRouteOptions, onRequestHookHandler } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Config } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';

/** Same rule as the dispatcher's x-tenant (services/dispatch/request-meta.ts). */
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

/** Routes that run a task or hold one (jobs): POST task routes, V2 infer, everything under /v1/jobs. */
export function isRateLimitedRoute(method: string | string[], url: string): boolean {
  const methods = Array.isArray(method) ? method : [method];
  if (url === '/v1/jobs' || url.startsWith('/v1/jobs/')) return true;
  if (!methods.includes('POST')) return false;
  return (
    url.startsWith('/v1/vision/') ||
    url === '/v1/inspect' ||
    url === '/v1/asr' ||
    url === '/v2/models/:model/infer' ||
    url === '/v2/models/:model/versions/:version/infer'
  );
}

/** The client a request counts against: its tenant when it names one, else its address. */
export function rateLimitKey(request: FastifyRequest): string {
  const tenant = request.headers['x-tenant'];
  if (typeof tenant === 'string' && TENANT.test(tenant)) return `tenant:${tenant}`;
  return `ip:${request.ip}`;
}

/** Registers the limit when config.tasks.rateLimit.max > 0; call before the routes are registered. */
export async function registerRateLimit(app: FastifyInstance, config: Readonly<Config>): Promise<void> {
  const { max, windowMs } = config.tasks.rateLimit;
  if (max <= 0) return;
  await app.register(fastifyRateLimit, {
    // Not global: only the routes below get the hook, so health and metrics never pay for it.
    global: false,
    max,
    timeWindow: windowMs,
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (_request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new EdgeError('EDGE_ERR_RATE_LIMITED', `this client sent more than ${context.max} requests in ${windowMs} ms`, {
        details: { max: context.max, window_ms: windowMs, retry_after_seconds: retryAfterSeconds },
        retryAfterSeconds,
      });
    },
  });
  // One handler, hence one counter per client across all limited routes.
  const limit = app.rateLimit() as onRequestHookHandler;
  app.addHook('onRoute', (route: FastifyRouteOptions) => {
    if (!isRateLimitedRoute(route.method, route.url)) return;
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [limit] : [...(Array.isArray(existing) ? existing : [existing]), limit];
  });
}
