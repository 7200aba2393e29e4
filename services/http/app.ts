/**
 * The HTTP edge: build(config, deps) returns a fastify instance with every route registered,
 * ready to listen (or to inject()). It owns no dependency: the composition root closes them after
 * app.close(). While closing, requests are answered 503 EDGE_ERR_SHUTTING_DOWN with Retry-After.
 *
 * Server limits come from config.server: bodyLimit (413 while streaming), requestTimeout (a body
 * or headers not complete in time get 408 and the socket is closed: slowloris), keepAliveTimeout,
 * a socket inactivity timeout, and prototype poisoning refused.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Config } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { clientErrorHandler } from './client-errors.ts';
import type { HttpDeps, RouteOptions } from './deps.ts';
import { countHttpRequests } from './http-metrics-hook.ts';
import { sendError } from './http-errors.ts';
import { registerRateLimit } from './rate-limit.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { v2Routes } from './routes/v2.ts';
import { visionRoutes } from './routes/vision.ts';
import { inspectRoutes } from './routes/inspect.ts';
import { streamRoutes } from './routes/streams.ts';
import { streamCalibrationRoutes } from './routes/stream-calibration.ts';
import { asrRoutes, MAX_MESSAGE_BYTES as SPEECH_MAX_MESSAGE_BYTES } from './routes/asr.ts';
import { tierRoutes } from './routes/tier.ts';
import { jobRoutes } from './routes/jobs.ts';
import { syncRoutes } from './routes/sync.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { acceptWebSockets } from './websocket.ts';
import { SERVER_NAME, SERVER_VERSION } from './routes/v2-server.ts';

export type { HttpDeps } from './deps.ts';

/** Seconds a client is told to wait when the node is shutting down. */
const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

export function serverOptions(config: Readonly<Config>) {
  const { bodyLimitBytes, requestTimeoutMs, keepAliveTimeoutMs, defaultInferTimeoutMs } = config.server;
  return {
    logger: { level: config.log.level },
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    // Socket inactivity: long enough for the slowest legitimate request to be read and answered.
    connectionTimeout: requestTimeoutMs + defaultInferTimeoutMs + keepAliveTimeoutMs,
    http: {
      // Headers count against the same deadline as the body; Node checks deadlines on this
      // interval (30 s by default, which would let a slowloris live 30 s whatever the timeout).
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
    },
    // Our own 503 (hook below) carries a code and Retry-After; fastify's would carry neither.
    return503OnClosing: false,
    onProtoPoisoning: 'error' as const,
    onConstructorPoisoning: 'error' as const,
    // Long enough that a 256-character model name reaches the name check (400), not a 414.
    routerOptions: { maxParamLength: 1024 },
    clientErrorHandler,
  };
}

export async function build(config: Readonly<Config>, deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...serverOptions(config),
    frameworkErrors: (error, request, reply) => {
      sendError(request, reply, error);
    },
  });

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    done(new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfterSeconds: SHUTDOWN_RETRY_AFTER_SECONDS }));
  });
  countHttpRequests(app, deps.metrics);
  // Per-client limit (tasks.rateLimit), before any route so that the task routes get its hook.
  await registerRateLimit(app, config);

  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new EdgeError('EDGE_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  await app.register(swagger, {
    openapi: {
      info: {
        title: `${SERVER_NAME} edge API`,
        version: SERVER_VERSION,
        description: 'Vision and defect-inspection tasks (/v1), speech recognition (/v1/asr, WebSocket /v1/asr/stream), camera streams (/v1/streams, WebSocket), the Open Inference Protocol with Triton extensions (/v2), metrics. Error codes: docs/errors.md.',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await acceptWebSockets(app, Math.max(config.streams.maxFrameBytes, SPEECH_MAX_MESSAGE_BYTES));
  const routeOptions: RouteOptions = { config, deps };
  await app.register(visionRoutes, routeOptions);
  await app.register(inspectRoutes, routeOptions);
  await app.register(streamRoutes, routeOptions);
  await app.register(streamCalibrationRoutes, routeOptions);
  await app.register(asrRoutes, routeOptions);
  await app.register(v2Routes, routeOptions);
  await app.register(tierRoutes, routeOptions);
  await app.register(jobRoutes, routeOptions);
  await app.register(syncRoutes, routeOptions);
  await app.register(metricsRoutes, routeOptions);
  await app.register(dashboardRoutes, routeOptions);
  return app;
}
