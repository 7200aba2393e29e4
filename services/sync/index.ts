/**
 * Sync as the composition root sees it: createSync(config, ...) builds the cloud's publisher (a
 * cloud node with sync.enabled) or the edge's agent (a MEC node with sync.enabled and a cloudUrl),
 * or nothing. start(port) begins publishing / polling once the node listens; close() is idempotent
 * and runs before the HTTP server closes (it answers waiting long polls and stops the agent).
 */
import path from 'node:path';
import type { Config } from '../core/config.ts';
import type { ModelRepository } from '../core/contracts.ts';
import { NodeReports } from './node-reports.ts';
import type { PolicyHolder } from './policy-holder.ts';
import { SyncPublisher } from './publisher.ts';
import { defaultNodeId, SyncAgent, type SyncAgentEvent } from './sync-agent.ts';

export { PolicyHolder } from './policy-holder.ts';
export { loadStartupPolicy } from './startup-policy.ts';
export type { SyncAgentEvent } from './sync-agent.ts';

/** What node.ts hands the HTTP edge when sync is on: the cloud's side, the edge's, or neither. */
export interface SyncDeps {
  cloud?: { publisher: SyncPublisher; reports: NodeReports };
  edge?: SyncAgent;
}

export interface RunningSync {
  deps: SyncDeps;
  /** Starts rescanning (cloud) or polling (edge); the edge's node id defaults to host:port. */
  start(port: number): Promise<void>;
  close(): Promise<void>;
}

/** Where the edge keeps synced policies and state.json: sync.cacheDir, else a dot folder of the repository. */
export function syncCacheDir(config: Readonly<Config>): string | undefined {
  if (!config.sync.enabled || config.placement.tier !== 'mec') return undefined;
  return config.sync.cacheDir ?? path.join(config.models.repository, '.sync');
}

export interface CreateSyncOptions {
  repository: Pick<ModelRepository, 'load' | 'get' | 'index'>;
  policy: PolicyHolder;
  onEvent?: (event: SyncAgentEvent) => void;
  log?: { info(message: string): void; warn(message: string): void };
}

export async function createSync(config: Readonly<Config>, options: CreateSyncOptions): Promise<RunningSync | undefined> {
  if (!config.sync.enabled) return undefined;
  if (config.placement.tier === 'cloud') {
    const publisher = new SyncPublisher({
      repository: config.models.repository,
      policiesDir: config.sync.policiesDir,
      rescanMs: config.sync.rescanMs,
      onScanError: (error) => options.log?.warn(`sync: scan failed (${error.code}): ${error.message}`),
    });
    return {
      deps: { cloud: { publisher, reports: new NodeReports() } },
      start: () => publisher.start(),
      async close() {
        publisher.close();
      },
    };
  }
  const { cloudUrl } = config.placement;
  const cacheDir = syncCacheDir(config);
  if (cloudUrl === undefined || cacheDir === undefined) return undefined;
  // The agent exists (and GET /v1/sync/status answers) before the node listens; it polls from start().
  const agent = await SyncAgent.create({
    cloudUrl,
    ...(config.sync.token === undefined ? {} : { token: config.sync.token }),
    node: config.sync.nodeId ?? defaultNodeId(config.server.port),
    cacheDir,
    repositoryRoot: config.models.repository,
    models: config.models.load,
    registry: options.repository,
    policy: options.policy,
    pollWaitMs: config.sync.pollWaitMs,
    retryMs: config.sync.retryMs,
    retryMaxMs: config.sync.retryMaxMs,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  let closed = false;
  return {
    deps: { edge: agent },
    async start(port) {
      if (closed) return;
      // Port 0 was asked: the id names the port the node really got.
      agent.start(config.sync.nodeId ?? defaultNodeId(port));
    },
    async close() {
      closed = true;
      await agent.close();
    },
  };
}
