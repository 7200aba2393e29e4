/**
 * The placement headers at the HTTP edge: each bad value is a 400 with its code and the header's
 * name, before any work; a node's status route answers for the heartbeat.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../services/core/config.ts';
import { MODEL_REPOSITORY, startStack, type Stack } from './helpers.ts';

const DOG = readFileSync(path.join(PROJECT_ROOT, 'test/fixtures/images/dog.jpg'));

describe('placement headers', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ models: { repository: MODEL_REPOSITORY, load: ['nanodet'], defaultDetector: 'nanodet' } });
  });

  afterAll(async () => {
    await stack?.close();
  });

  const detect = (headers: Record<string, string>) =>
    stack.app.inject({ method: 'POST', url: '/v1/vision/detect', headers: { 'content-type': 'image/jpeg', ...headers }, payload: DOG });

  it('a node alone places on itself and says so; the status route reports its load and variants', async () => {
    const response = await detect({ 'x-data-class': 'restricted', 'x-tenant': 'plant-7', 'x-deadline-ms': '5000' });
    expect(response.statusCode).toBe(200);
    expect(response.json().placement).toMatchObject({ tier: 'mec', model: 'nanodet', reason: 'only-eligible', data_class: 'restricted', escalated: false });
    const status = (await stack.app.inject('/v1/tier/status')).json();
    expect(status).toMatchObject({ tier: 'mec', policy_version: 'default@3', load: { in_system: 0, workers: 1 } });
    expect(status.serves.detect).toEqual([expect.objectContaining({ model: 'nanodet', variant: 'small', accuracy: 0.235 })]);
    expect(status.serves.detect[0].compute_ms).toBeGreaterThan(0);
    expect(status).not.toHaveProperty('cloud');
  });

  it('a tenant whose policy class is restricted cannot lower it with x-data-class', async () => {
    const response = await detect({ 'x-tenant': 'acme-health', 'x-data-class': 'public' });
    expect(response.json().placement.data_class).toBe('restricted');
  });

  it('a hard deadline no tier can meet is refused at once, with every tier\'s prediction', async () => {
    const response = await detect({ 'x-deadline-ms': '1' });
    expect(response.statusCode).toBe(503);
    const { error } = response.json();
    expect(error.code).toBe('EDGE_ERR_PLACEMENT_INFEASIBLE');
    expect(error.details.alternatives).toEqual([expect.objectContaining({ tier: 'mec', model: 'nanodet', rejected_because: expect.stringMatching(/^deadline: predicted/) })]);
    expect(response.headers['retry-after']).toBe('1');
  });

  it('BAD CALL - a pin to the cloud for restricted data is 403 EDGE_ERR_PRIVACY_DENIED', async () => {
    const response = await detect({ 'x-data-class': 'restricted', 'x-placement-tier': 'cloud' });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.code).toBe('EDGE_ERR_PRIVACY_DENIED');
  });

  it('BAD CALL - a pin to a tier this node cannot reach is 503 EDGE_ERR_PLACEMENT_INFEASIBLE', async () => {
    const response = await detect({ 'x-data-class': 'public', 'x-placement-tier': 'cloud' });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('EDGE_ERR_PLACEMENT_INFEASIBLE');
  });

  it('BAD CALL - bad header values are 400 with their code and the header named', async () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ 'x-data-class': 'secret' }, 'EDGE_ERR_DATA_CLASS_INVALID', 'x-data-class'],
      [{ 'x-deadline-ms': '0' }, 'EDGE_ERR_HEADER_INVALID', 'x-deadline-ms'],
      [{ 'x-deadline-ms': 'soon' }, 'EDGE_ERR_HEADER_INVALID', 'x-deadline-ms'],
      [{ 'x-deadline-ms': '1e9' }, 'EDGE_ERR_HEADER_INVALID', 'x-deadline-ms'],
      [{ 'x-placement-tier': 'edge' }, 'EDGE_ERR_HEADER_INVALID', 'x-placement-tier'],
      [{ 'x-min-accuracy': '1.5' }, 'EDGE_ERR_HEADER_INVALID', 'x-min-accuracy'],
      [{ 'x-tenant': 'a b' }, 'EDGE_ERR_HEADER_INVALID', 'x-tenant'],
      [{ 'x-forwarded-tier': 'moon' }, 'EDGE_ERR_HEADER_INVALID', 'x-forwarded-tier'],
    ];
    for (const [headers, code, header] of cases) {
      const response = await detect(headers);
      expect(response.statusCode, JSON.stringify(headers)).toBe(400);
      const { error } = response.json();
      expect(error.code).toBe(code);
      expect(error.details.header).toBe(header);
    }
    // And the node still answers.
    expect((await detect({})).statusCode).toBe(200);
  });

  it('BAD CALL - an accuracy need no variant meets, for data that may not leave, is refused at once', async () => {
    const response = await detect({ 'x-data-class': 'restricted', 'x-min-accuracy': '0.9' });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.details.alternatives[0].rejected_because).toBe('accuracy: no variant reaches 0.9');
  });
});
