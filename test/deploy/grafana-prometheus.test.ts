/**
 * The dashboard's PromQL run by a real Prometheus that scrapes a real node (1 s scrapes, the target
 * labels of the rendered ConfigMap: node_tier, node, pod): every query must parse and execute, the
 * panels fed by inspection traffic must show data, and the placement metrics' own `tier` label
 * must arrive unrenamed next to node_tier. A second job scrapes the same node with a target label
 * `tier`, as the ConfigMap once did, to show the exported_tier rename that node_tier avoids.
 * Needs the `prometheus` binary (Debian: apt-get install -y --no-install-recommends prometheus;
 * .ci/run installs it); without it the test fails and says so, since nothing else can tell whether
 * the queries parse.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, loadConfig } from '../../services/core/config.ts';
import { startNode, type RunningNode } from '../../services/node.ts';

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

interface Panel { title: string; targets?: { expr: string }[] }
const dashboard = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'deploy', 'grafana', 'mec-overview.json'), 'utf8')) as { panels: Panel[] };
const image = readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'inspect', 'metal-hole.jpg'));

/** What Grafana substitutes: "All" of a variable is .*, $__rate_interval is at least 4 scrape intervals; job is the one like the ConfigMap's. */
const substitute = (expr: string): string => expr.replaceAll('$__rate_interval', '5s').replaceAll('$job', 'mec-nodes').replace(/\$(node_tier|pod)\b/g, '.*');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

describe('grafana dashboard on a real Prometheus', () => {
  let node: RunningNode | undefined;
  let prometheus: ChildProcess | undefined;
  let dir: string | undefined;
  let api = '';
  let traffic = true;
  let trafficDone: Promise<void> = Promise.resolve();

  async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: { metric: Record<string, string> }[] } }> {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string> }[] } };
  }

  beforeAll(() => {
    if (!hasPrometheus) throw new Error('the prometheus binary is missing: apt-get install -y --no-install-recommends prometheus (.ci/run does it)');
  });

  beforeAll(async () => {
    node = await startNode(loadConfig({ server: { port: 0 }, runtime: { workers: 1 }, models: { load: ['defect'] }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' } }));
    const nodeUrl = node.url;
    // Sequential inspections keep every rate() window fed while the queries run.
    trafficDone = (async () => {
      while (traffic) {
        const response = await fetch(`${nodeUrl}/v1/inspect?surface=metal`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: image });
        await response.text();
        if (response.status !== 200) throw new Error(`inspect answered ${response.status}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    dir = mkdtempSync(path.join(os.tmpdir(), 'mec-grafana-prom-'));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global: {scrape_interval: 1s}',
        'scrape_configs:',
        '  - job_name: mec-nodes',
        '    static_configs:',
        `      - targets: ['${new URL(nodeUrl).host}']`,
        '        labels: {node_tier: site-a, node: node-a, pod: pod-a}',
        '  - job_name: colliding-tier',
        '    static_configs:',
        `      - targets: ['${new URL(nodeUrl).host}']`,
        '        labels: {tier: site-a, node: node-a, pod: pod-a}',
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    // Ready when a rate over the node's own HTTP counter has two scrapes to work with, in both jobs.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await query('sum by (job) (rate(mec_http_requests_total[5s]))').catch(() => undefined);
      if ((ready?.data?.result.length ?? 0) === 2) break;
      if (Date.now() > deadline) throw new Error('Prometheus saw no rate of mec_http_requests_total in both jobs within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  afterAll(async () => {
    traffic = false;
    await trafficDone.catch(() => undefined);
    prometheus?.kill('SIGTERM');
    await node?.close({ force: true });
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('parses and runs every query; the inspection panels show data', async () => {
    const results = new Map<string, number>();
    const errors: string[] = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const answer = await query(substitute(target.expr));
        if (answer.status !== 'success') errors.push(`${panel.title}: ${answer.error}`);
        results.set(panel.title, Math.max(results.get(panel.title) ?? 0, answer.data?.result.length ?? 0));
      }
    }
    expect(errors).toEqual([]);
    expect(results.size).toBe(29);
    const fed = [
      'Decisions per tier and reason', 'Decisions per data class', 'Predicted vs actual latency (p50, p99)',
      'Request rate per task', 'Latency per task (p50, p99)', 'Time per phase (mean)', 'Queue vs infer time per model (Triton counters)',
      'Worker utilisation', 'Queued requests', 'Batch size per model', 'Unfinished jobs', 'Executions', 'Requests by route and status',
      'Request duration p99 by route', 'In flight',
    ];
    expect(fed.filter((title) => (results.get(title) ?? 0) === 0)).toEqual([]);
    // Nothing ran a camera, a job or a sync: those panels are empty rather than showing zeros as data.
    expect(results.get('Seconds since last successful sync')).toBe(0);
    expect(results.get('Frame to result p99')).toBe(0);
  });

  it('sees the served tier as tier next to the node\'s node_tier, as the placement panels assume', async () => {
    const answer = await query('mec_placement_decisions_total{job="mec-nodes"}');
    expect(answer.status).toBe('success');
    const series = answer.data!.result.map((result) => [result.metric.tier, result.metric.node_tier, result.metric.task, Object.keys(result.metric).filter((label) => label.startsWith('exported_'))]);
    expect(series).toEqual([['mec', 'site-a', 'inspect', []]]);
  });

  it('BAD CALL - a target label named tier renames the metric\'s own to exported_tier (why the ConfigMap says node_tier)', async () => {
    const answer = await query('mec_placement_decisions_total{job="colliding-tier"}');
    expect(answer.status).toBe('success');
    const series = answer.data!.result.map((result) => [result.metric.tier, result.metric.exported_tier, result.metric.task]);
    expect(series).toEqual([['site-a', 'mec', 'inspect']]);
  });

  it('answers the variables\' label_values queries', async () => {
    for (const [label, value] of [['job', 'mec-nodes'], ['node_tier', 'site-a'], ['pod', 'pod-a']] as const) {
      const response = await fetch(`${api}/api/v1/label/${label}/values?match[]=${encodeURIComponent('mec_http_requests_in_flight{job="mec-nodes"}')}`);
      const body = (await response.json()) as { status: string; data: string[] };
      expect([body.status, body.data]).toEqual(['success', [value]]);
    }
  });
});
