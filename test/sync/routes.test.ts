/**
 * The cloud's sync routes over real HTTP: the manifest and its long poll, file downloads (only what
 * the manifest lists; traversal refused with stable codes), acks, publish (admin only).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type RunningNode } from '../../services/node.ts';
import { cloudConfig, getJson, makeWorkspace, publishModel, type Workspace } from './support.ts';

/** GET with the path sent byte for byte (fetch would resolve dot segments before sending). */
function rawGet(base: string, rawPath: string): Promise<{ status: number; body: { error: { code: string } } }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.get({ host: hostname, port: Number(port), path: rawPath }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    request.on('error', reject);
  });
}

interface ManifestBody {
  etag: string;
  resources: Array<{ kind: string; name: string; version: number; sha256: string; files: Array<{ path: string; sha256: string; bytes: number }> }>;
}

describe('sync routes at the cloud', () => {
  let ws: Workspace;
  let cloud: RunningNode;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-routes');
    // A long rescan interval: publications show only through POST /v1/sync/publish here.
    cloud = await startNode(cloudConfig(ws, { sync: { rescanMs: 60_000 } }));
  });

  afterAll(async () => {
    await cloud?.close();
    await ws?.remove();
  });

  it('lists the models and policies with versions, files and sha256', async () => {
    const { status, body } = await getJson<ManifestBody>(`${cloud.url}/v1/sync/manifest`);
    expect(status).toBe(200);
    const card = await readFile(path.join(ws.cloudRepo, 'defect', 'card.json'));
    const model = body.resources.find((resource) => resource.kind === 'model');
    expect(model).toEqual({
      kind: 'model',
      name: 'defect',
      version: 1,
      sha256: '24629a3fbdfa4e53c34827b1ccd03a5ef7096db184333bc719f0a39798f59a6a',
      files: [
        { path: 'card.json', sha256: createHash('sha256').update(card).digest('hex'), bytes: card.length },
        { path: 'model.onnx', sha256: '24629a3fbdfa4e53c34827b1ccd03a5ef7096db184333bc719f0a39798f59a6a', bytes: 1232742 },
      ],
    });
    expect(body.resources.find((resource) => resource.kind === 'policy')).toMatchObject({ name: 'default', version: 3 });
  });

  it('streams a listed file with its sha256', async () => {
    const response = await fetch(`${cloud.url}/v1/sync/models/defect/1/model.onnx`);
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.length).toBe(1232742);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(response.headers.get('x-sync-sha256'));
    const policy = await fetch(`${cloud.url}/v1/sync/policies/default/3`);
    expect(policy.status).toBe(200);
    expect(await policy.text()).toMatch(/^ {2}version: 3$/m);
  });

  it('long poll: answers at once for another etag, waits for a change, or returns after wait_ms', async () => {
    const { body: first } = await getJson<ManifestBody>(`${cloud.url}/v1/sync/manifest`);
    let started = Date.now();
    await getJson(`${cloud.url}/v1/sync/manifest?after=other&wait_ms=5000`);
    expect(Date.now() - started).toBeLessThan(1_000);
    started = Date.now();
    const unchanged = await getJson<ManifestBody>(`${cloud.url}/v1/sync/manifest?after=${first.etag}&wait_ms=400`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(unchanged.body.etag).toBe(first.etag);

    started = Date.now();
    const waiting = getJson<ManifestBody>(`${cloud.url}/v1/sync/manifest?after=${first.etag}&wait_ms=20000`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await publishModel(ws.cloudRepo, 2);
    const published = await getJson<{ resources: Array<{ kind: string; version: number }> }>(`${cloud.url}/v1/sync/publish`, { method: 'POST' });
    expect(published.status).toBe(200);
    const changed = await waiting;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(changed.body.etag).not.toBe(first.etag);
    expect(changed.body.resources.find((resource) => resource.kind === 'model')?.version).toBe(2);
  });

  it('BAD CALL - path traversal and unlisted files: 400 or 404 with stable codes', async () => {
    const cases: Array<[string, number, string]> = [
      ['/v1/sync/models/defect/2/..%2F..%2Fcard.json', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/defect/2/%2e%2e/%2e%2e/%2e%2e/etc/passwd', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/defect/2/../../../../etc/passwd', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/defect/2/model.onnx%00', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/defect/2/2/..%2Fmodel.onnx', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/defect/2/%2Fetc%2Fpasswd', 400, 'EDGE_ERR_REQUEST_MALFORMED'],
      ['/v1/sync/models/..%2F..%2Fetc/2/model.onnx', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
      ['/v1/sync/models/defect/..%2F1/model.onnx', 400, 'EDGE_ERR_SYNC_VERSION_INVALID'],
      ['/v1/sync/models/defect/0/model.onnx', 400, 'EDGE_ERR_SYNC_VERSION_INVALID'],
      ['/v1/sync/models/defect/1.5/model.onnx', 400, 'EDGE_ERR_SYNC_VERSION_INVALID'],
      ['/v1/sync/models/defect/2/other.onnx', 404, 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND'],
      ['/v1/sync/models/defect/1/model.onnx', 404, 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND'],
      ['/v1/sync/models/defect/2/1/model.onnx', 404, 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND'],
      ['/v1/sync/models/nothing/1/model.onnx', 404, 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND'],
      ['/v1/sync/policies/default/99', 404, 'EDGE_ERR_SYNC_RESOURCE_NOT_FOUND'],
      ['/v1/sync/policies/..%2Fdefault/3', 400, 'EDGE_ERR_MODEL_NAME_INVALID'],
      ['/v1/sync/manifest?wait_ms=-1', 400, 'EDGE_ERR_QUERY_INVALID'],
      ['/v1/sync/manifest?node=%2E%2E%2Fx', 400, 'EDGE_ERR_QUERY_INVALID'],
    ];
    for (const [url, status, code] of cases) {
      const answer = await rawGet(cloud.url, url);
      expect({ url, status: answer.status, code: answer.body.error.code }).toEqual({ url, status, code });
    }
    // The cloud keeps serving.
    expect((await fetch(`${cloud.url}/v2/health/live`)).status).toBe(200);
  });

  it('records acks in the operator view, and refuses malformed ones', async () => {
    const ack = { node: 'edge-7', applied: [{ kind: 'model', name: 'defect', version: 2 }], rejected: [{ kind: 'policy', name: 'default', version: 4, code: 'EDGE_ERR_POLICY_INVALID', message: 'bad' }] };
    const sent = await getJson(`${cloud.url}/v1/sync/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ack) });
    expect(sent.status).toBe(200);
    const { body } = await getJson<{ nodes: Array<{ node: string; applied: Record<string, number>; rejected: Record<string, { code: string }>; lastContact: string }> }>(`${cloud.url}/v1/sync/nodes`);
    const node = body.nodes.find((entry) => entry.node === 'edge-7');
    expect(node?.applied).toEqual({ 'model/defect': 2 });
    expect(node?.rejected['policy/default']?.code).toBe('EDGE_ERR_POLICY_INVALID');
    expect(Date.now() - Date.parse(node!.lastContact)).toBeLessThan(5_000);

    for (const bad of [{ node: '../x', applied: [] }, { node: 'e', applied: [{ kind: 'model', name: 'defect', version: 0 }] }, { node: 'e', applied: [{ kind: 'thing', name: 'defect', version: 1 }] }, []]) {
      const answer = await getJson<{ error: { code: string } }>(`${cloud.url}/v1/sync/ack`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) });
      expect(answer.status).toBe(400);
      expect(['EDGE_ERR_REQUEST_MALFORMED', 'EDGE_ERR_SYNC_VERSION_INVALID']).toContain(answer.body.error.code);
    }
  });
});

describe('sync publish is admin only', () => {
  let ws: Workspace;
  let cloud: RunningNode;

  beforeAll(async () => {
    ws = await makeWorkspace('sync-admin');
    cloud = await startNode(cloudConfig(ws, { server: { adminToken: 'a-token-of-sixteen-chars' } }));
  });

  afterAll(async () => {
    await cloud?.close();
    await ws?.remove();
  });

  it('BAD CALL - publish without the admin token: 401', async () => {
    const answer = await getJson<{ error: { code: string } }>(`${cloud.url}/v1/sync/publish`, { method: 'POST' });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('EDGE_ERR_ADMIN_UNAUTHORIZED');
    const allowed = await getJson(`${cloud.url}/v1/sync/publish`, { method: 'POST', headers: { authorization: 'Bearer a-token-of-sixteen-chars' } });
    expect(allowed.status).toBe(200);
  });
});
