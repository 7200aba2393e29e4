/**
 * Whether a job worker's targets can be reached now: the node it posts to, and that node's cloud.
 * The cloud queue's worker pauses while the cloud is unreachable (jobs wait in Redis, attempts are
 * not spent) and both pause while the node itself is unreachable.
 * - embedded in the node: read in-process from the node's cloud monitor (no HTTP);
 * - a separate `mec worker`: poll the node's GET /v1/tier/status (field cloud.reachable).
 */
import { Pool } from 'undici';

export interface Reachability {
  node(): boolean;
  cloud(): boolean;
  close(): Promise<void>;
}

/** In the node's own process: the node is there; the cloud is what its monitor says (no cloud: never). */
export function inProcessReachability(cloud: (() => boolean) | undefined): Reachability {
  return { node: () => true, cloud: () => cloud?.() ?? false, close: async () => undefined };
}

/** Polls GET /v1/tier/status every `intervalMs`; a node not answering within `timeoutMs` counts as unreachable. */
export function polledReachability(nodeUrl: string, intervalMs = 250, timeoutMs = 1_000): Reachability {
  const pool = new Pool(nodeUrl, { connections: 1, keepAliveTimeout: 2_000 });
  // Optimistic until the first answer: a job that meets an outage goes back to waiting anyway.
  let node = true;
  let cloud = true;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async () => {
    try {
      const response = await pool.request({ method: 'GET', path: '/v1/tier/status', signal: AbortSignal.timeout(timeoutMs) });
      const body = (await response.body.json()) as { cloud?: { reachable?: boolean } };
      node = response.statusCode === 200;
      // A node without a cloud has no cloud view: its cloud queue should stay empty; do not block it.
      cloud = node && (body.cloud === undefined || body.cloud.reachable === true);
    } catch {
      node = false;
      cloud = false;
    }
    if (!stopped) timer = setTimeout(() => void poll(), intervalMs);
  };
  void poll();
  return {
    node: () => node,
    cloud: () => cloud,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await pool.close().catch(() => undefined);
    },
  };
}
