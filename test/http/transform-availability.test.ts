/**
 * A tier whose egress rule needs a privacy transform this node cannot run is not a candidate: a MEC
 * node without its face detector never sends internal photos (faces blurred first, by policy) to
 * the cloud - it serves them itself, says why in the alternatives, and a pin to the cloud is refused
 * before any work. Public photos (metadata stripped only) still go. Real nodes over real HTTP.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { waitFor } from '../support/wait-for.ts';

const DOG = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));

let cloud: RunningNode;
let mec: RunningNode;

beforeAll(async () => {
  const common = { server: { port: 0 }, runtime: { workers: 1 }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' as const } };
  cloud = await startNode(loadConfig({ ...common, models: { load: ['centernet'] }, placement: { tier: 'cloud' } }));
  // No blazeface here: the face blur the policy asks for before internal data reaches the cloud cannot run.
  mec = await startNode(loadConfig({ ...common, models: { load: ['nanodet'], defaultDetector: 'nanodet' }, placement: { tier: 'mec', cloudUrl: cloud.url, heartbeatMs: 200 } }));
  await waitFor(async () => ((await (await fetch(`${mec.url}/v1/tier/status`)).json()) as { cloud: { reachable: boolean } }).cloud.reachable, 'the MEC node to reach the cloud');
});

afterAll(async () => {
  await mec?.close();
  await cloud?.close();
});

const detect = (headers: Record<string, string>) =>
  fetch(`${mec.url}/v1/vision/detect`, { method: 'POST', headers: { 'content-type': 'image/jpeg', ...headers }, body: DOG });

describe('privacy transforms this node cannot run', () => {
  it('internal photos stay at the MEC node, and the cloud alternative says why', async () => {
    const response = await detect({ 'x-data-class': 'internal' });
    expect(response.status).toBe(200);
    const { placement } = (await response.json()) as { placement: { tier: string; alternatives: { tier: string; rejected_because: string }[] } };
    expect(placement.tier).toBe('mec');
    expect(placement.alternatives.find((alternative) => alternative.tier === 'cloud')?.rejected_because).toBe(
      'privacy: internal data needs blur-faces before the cloud tier, and this node cannot do it: its face detector blazeface is not loaded',
    );
  });

  it('BAD CALL - internal photos pinned to the cloud: 403 EDGE_ERR_PRIVACY_DENIED naming the missing detector, nothing sent', async () => {
    const response = await detect({ 'x-data-class': 'internal', 'x-placement-tier': 'cloud' });
    expect(response.status).toBe(403);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('EDGE_ERR_PRIVACY_DENIED');
    expect(error.message).toMatch(/blazeface is not loaded/);
  });

  it('public photos need only their metadata stripped: a pin to the cloud is served there', async () => {
    const response = await detect({ 'x-data-class': 'public', 'x-placement-tier': 'cloud' });
    expect(response.status).toBe(200);
    const { placement } = (await response.json()) as { placement: { tier: string; transforms: string[] } };
    expect(placement).toMatchObject({ tier: 'cloud', transforms: ['strip-metadata'] });
  });
});
