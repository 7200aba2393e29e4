/**
 * `mec serve --sync` as operators run it: a cloud process publishing its folders and an edge
 * process (--cloud-url, --sync-cache) pulling a new model version from it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeProcess, type NodeProcess } from '../support/node-process.ts';
import { waitFor } from '../support/wait-for.ts';
import { getJson, makeWorkspace, publishModel, type Workspace } from './support.ts';

describe('mec serve --sync', () => {
  let ws: Workspace;
  let cloud: NodeProcess | undefined;
  let edge: NodeProcess | undefined;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-cli');
  });

  afterAll(async () => {
    await edge?.stop();
    await cloud?.stop();
    await ws?.remove();
  });

  it('a cloud process publishes and an edge process pulls, caches and serves the new version', async () => {
    const common = ['--port', '0', '--workers', '1', '--no-mqtt', '--models', 'defect', '--log-level', 'warn'];
    cloud = await startNodeProcess([...common, '--role', 'cloud', '--repository', ws.cloudRepo, '--sync', '--sync-policies', ws.cloudPolicies]);
    edge = await startNodeProcess([...common, '--role', 'mec', '--repository', ws.edgeRepo, '--policy', ws.edgePolicy, '--cloud-url', cloud.url, '--sync', '--sync-cache', ws.cache]);
    const { body: manifest } = await getJson<{ resources: Array<{ kind: string; version: number }> }>(`${cloud.url}/v1/sync/manifest`);
    expect(manifest.resources.map((resource) => `${resource.kind}@${resource.version}`).sort()).toEqual(['model@1', 'policy@3']);

    await publishModel(ws.cloudRepo, 2);
    const url = edge.url;
    await waitFor(async () => (await getJson<{ held: Array<{ kind: string; version: number }> }>(`${url}/v1/sync/status`)).body.held.some((entry) => entry.kind === 'model' && entry.version === 2), 'the edge process to hold defect 2', 20_000);
    expect(existsSync(path.join(ws.cache, 'state.json'))).toBe(true);
    const { body } = await getJson<Array<{ name: string; version: string; state: string }>>(`${edge.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(body.find((entry) => entry.name === 'defect')).toMatchObject({ version: '2', state: 'READY' });
  });
});
