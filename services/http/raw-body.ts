/**
 * Raw request bodies as Buffers, for an encapsulated group of routes. fastify's buffer parser
 * counts bytes as they arrive: a body past the limit is refused while it is still streaming (413,
 * and the connection is closed), and a Content-Length over the limit is refused before reading.
 */
import type { FastifyInstance } from 'fastify';

/**
 * Replaces the parsers of this encapsulation context: only `contentTypes` are accepted ('*' =
 * any, including none), each delivered as a Buffer. Other types answer 415.
 */
export function acceptRawBodies(instance: FastifyInstance, contentTypes: readonly string[], bodyLimit: number): void {
  instance.removeAllContentTypeParsers();
  for (const contentType of contentTypes) {
    instance.addContentTypeParser(contentType, { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
  }
}
