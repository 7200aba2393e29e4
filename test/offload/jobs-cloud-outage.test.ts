/**
 * Jobs and the cloud link: a MEC node whose cloud is not there yet. Jobs whose data class may
 * reach the cloud go to the cloud queue, whose worker is paused while the cloud is unreachable:
 * they wait without spending attempts. Restricted jobs run on the MEC node meanwhile. When the
 * cloud node comes up, the waiting jobs drain and run there (placement tier cloud).
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { dropPrefix, frame, freshPrefix, REDIS_URL, waitFinished, type JobAnswer } from './helpers.ts';

const prefix = freshPrefix();
let mec: RunningNode;
let cloud: RunningNode | undefined;
let cloudPort: number;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const common = { runtime: { workers: 1 }, models: { load: ['defect'] }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' as const } };

beforeAll(async () => {
  cloudPort = await freePort();
  mec = await startNode(
    loadConfig({
      ...common,
      // Internal data is sent with faces blurred: the MEC node needs the face detector for that.
      models: { load: ['defect', 'blazeface', 'emotion'] },
      server: { port: 0 },
      placement: { tier: 'mec', cloudUrl: `http://127.0.0.1:${cloudPort}`, heartbeatMs: 100 },
      offload: { enabled: true, redisUrl: REDIS_URL, prefix, attempts: 2, backoffMs: 100 },
    }),
  );
});

afterAll(async () => {
  await mec?.close();
  await cloud?.close();
  await dropPrefix(REDIS_URL, prefix);
});

async function job(id: string): Promise<JobAnswer> {
  return (await (await fetch(`${mec.url}/v1/jobs/${id}`)).json()) as JobAnswer;
}

describe('cloud jobs while the cloud is unreachable', () => {
  it('waits without spending attempts, runs restricted jobs here meanwhile, drains to the cloud once it is up', async () => {
    const image = frame('brick-hole.jpg');
    const submit = async (dataClass: string) => {
      const response = await fetch(`${mec.url}/v1/jobs?task=inspect&surface=brick`, { method: 'POST', body: image, headers: { 'content-type': 'image/jpeg', 'x-data-class': dataClass } });
      expect(response.status).toBe(202);
      return ((await response.json()) as { id: string }).id;
    };
    const cloudJobs = [await submit('public'), await submit('public'), await submit('internal')];
    const restricted = await submit('restricted');

    const here = await waitFinished(mec.url, restricted, 'anonymous', 20_000);
    expect(here.state).toBe('completed');
    expect((here.result!.placement as { tier: string }).tier).toBe('mec');

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const id of cloudJobs) {
      const waiting = await job(id);
      expect([waiting.state, waiting.attempts, waiting.executions]).toEqual(['waiting', 0, 0]);
    }

    cloud = await startNode(loadConfig({ ...common, server: { port: cloudPort }, placement: { tier: 'cloud' } }));
    for (const id of cloudJobs) {
      const done = await waitFinished(mec.url, id, 'anonymous', 30_000);
      expect([done.state, done.error]).toEqual(['completed', undefined]);
      expect(done.attempts).toBe(1);
      expect((done.result!.placement as { tier: string }).tier).toBe('cloud');
      expect(done.result!.defective).toBe(here.result!.defective);
    }
  });
});
