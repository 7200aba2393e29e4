/**
 * Who may read the cloud's models and policies: with a sync token (MEC_SYNC_TOKEN) every sync route
 * needs it as a bearer token, and an edge configured with it converges over real HTTP; without one,
 * only loopback clients are answered. An edge with the wrong token keeps serving and says why it
 * cannot sync.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../services/node.ts';
import { cloudConfig, edgeConfig, getJson, makeWorkspace, type Workspace } from './support.ts';
import { waitFor } from '../support/wait-for.ts';

const TOKEN = 'sync-token-of-24-chars!!';

interface SyncStatusBody {
  lastSuccess: string | null;
  lastError: { code: string } | null;
  applied?: unknown;
}

describe('sync token', () => {
  let ws: Workspace;
  let cloud: RunningNode;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-auth');
    cloud = await startNode(cloudConfig(ws, { sync: { token: TOKEN } }));
  });

  afterAll(async () => {
    await cloud?.close();
    await ws?.remove();
  });

  it('BAD CALL - every sync route without the token, or with another, is 401 EDGE_ERR_SYNC_UNAUTHORIZED', async () => {
    const manifest = await getJson<{ resources: Array<{ kind: string; name: string; version: number }> }>(`${cloud.url}/v1/sync/manifest`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(manifest.status).toBe(200);
    const policy = manifest.body.resources.find((resource) => resource.kind === 'policy')!;
    const routes: [string, RequestInit?][] = [
      [`${cloud.url}/v1/sync/manifest`],
      [`${cloud.url}/v1/sync/models/defect/1/card.json`],
      [`${cloud.url}/v1/sync/policies/${policy.name}/${policy.version}`],
      [`${cloud.url}/v1/sync/nodes`],
      [`${cloud.url}/v1/sync/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
    ];
    for (const [url, init] of routes) {
      for (const authorization of [undefined, 'Bearer not-the-sync-token-at-all', `Basic ${TOKEN}`]) {
        const answer = await getJson<{ error: { code: string } }>(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(authorization ? { authorization } : {}) } });
        expect(answer.status, `${url} ${authorization}`).toBe(401);
        expect(answer.body.error.code).toBe('EDGE_ERR_SYNC_UNAUTHORIZED');
      }
    }
    const file = await fetch(`${cloud.url}/v1/sync/models/defect/1/card.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(file.status).toBe(200);
  });

  it('an edge with the token syncs; one with another token keeps serving and reports EDGE_ERR_SYNC_UNAUTHORIZED', async () => {
    const good = await startNode(edgeConfig(ws, cloud.url, { server: { port: 0 }, sync: { token: TOKEN } }));
    try {
      await waitFor(async () => (await getJson<SyncStatusBody>(`${good.url}/v1/sync/status`)).body.lastSuccess !== null, 'the edge with the token to sync', 20_000);
      expect((await getJson<SyncStatusBody>(`${good.url}/v1/sync/status`)).body.lastError).toBeNull();
    } finally {
      await good.close();
    }
    const wrong = await startNode(edgeConfig(ws, cloud.url, { server: { port: 0 }, sync: { token: 'another-token-of-24-char', nodeId: 'edge-2', cacheDir: `${ws.cache}-2` } }));
    try {
      await waitFor(async () => (await getJson<SyncStatusBody>(`${wrong.url}/v1/sync/status`)).body.lastError?.code === 'EDGE_ERR_SYNC_UNAUTHORIZED', 'the edge with another token to report why', 20_000);
      expect((await getJson<SyncStatusBody>(`${wrong.url}/v1/sync/status`)).body.lastSuccess).toBeNull();
      expect((await fetch(`${wrong.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      await wrong.close();
    }
  }, 60_000);
});

describe('no sync token', () => {
  let ws: Workspace;
  let cloud: RunningNode;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-open');
    cloud = await startNode(cloudConfig(ws));
  });

  afterAll(async () => {
    await cloud?.close();
    await ws?.remove();
  });

  it('answers loopback clients (a one-machine topology) and refuses others with 403 EDGE_ERR_SYNC_FORBIDDEN', async () => {
    expect((await fetch(`${cloud.url}/v1/sync/manifest`)).status).toBe(200);
    // Another host: the address the node sees is what the guard judges (light-my-request sets it).
    const remote = await cloud.app.inject({ method: 'GET', url: '/v1/sync/manifest', remoteAddress: '192.0.2.77' });
    expect(remote.statusCode).toBe(403);
    expect(remote.json().error.code).toBe('EDGE_ERR_SYNC_FORBIDDEN');
    expect(remote.json().error.message).toMatch(/MEC_SYNC_TOKEN/);
  });
});
