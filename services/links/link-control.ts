/**
 * The small HTTP API through which `mec link` reads and changes the links of a running topology:
 *   GET /links          -> [stats, ...]
 *   GET /links/:name    -> stats
 *   PUT /links/:name    body: some of {latencyMs, jitterMs, bandwidthMbit, mode} -> new stats
 * Errors: {"error": message, "code": CODE} with the status of the one table (404 unknown link,
 * 400 bad settings). Bandwidth "no cap" is null in JSON, both ways.
 */
import Fastify, { type FastifyReply } from 'fastify';
import { EdgeError } from '../core/errors.ts';
import { statusOf } from '../http/error-status.ts';
import { toHttpEdgeError } from '../http/http-errors.ts';
import type { LinkSettings } from './link-settings.ts';
import type { LinkSet } from './link-set.ts';

export interface LinkControl {
  url: string;
  close(): Promise<void>;
}

/** Settings bodies are a handful of fields. */
const BODY_LIMIT_BYTES = 16 * 1024;

function sendError(reply: FastifyReply, thrown: unknown): FastifyReply {
  const error = toHttpEdgeError(thrown);
  return reply.code(statusOf(error.code)).send({ error: error.message, code: error.code });
}

export async function startLinkControl(links: LinkSet, options: { host: string; port: number }): Promise<LinkControl> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, onProtoPoisoning: 'error', onConstructorPoisoning: 'error' });
  app.setErrorHandler((error, _request, reply) => sendError(reply, error));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new EdgeError('EDGE_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url}: use GET /links, GET /links/:name or PUT /links/:name`)),
  );

  app.get('/links', async () => links.show());
  app.get<{ Params: { name: string } }>('/links/:name', async (request) => links.get(request.params.name).stats());
  app.put<{ Params: { name: string }; Body: unknown }>('/links/:name', async (request) => {
    // The settings validator refuses what is not an object, so a missing body says so clearly.
    return links.set(request.params.name, (request.body ?? null) as Partial<LinkSettings>);
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = address !== null && typeof address === 'object' ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    close: () => (closing ??= app.close()),
  };
}
