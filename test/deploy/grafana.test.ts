/**
 * deploy/grafana/mec-overview.json against the real thing: the dashboard has a shape Grafana
 * imports (schemaVersion 39, unique panel ids, a grid without overlaps, a target with an expr in
 * every panel), and every metric and label its PromQL names is exported by a real node started
 * in-process (names from the `# TYPE` lines of GET /metrics over HTTP, which prom-client prints
 * even for families with no sample yet; label names from the metrics registry's labelNames; scrape
 * labels from the rendered Kubernetes Prometheus ConfigMaps).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT, loadConfig } from '../../services/core/config.ts';
import { createMetrics } from '../../services/metrics/metrics.ts';
import { startNode, type RunningNode } from '../../services/node.ts';
import { checkQuery, parseLabelValues, parseQuery, typesFromExposition, type ExportedMetric } from './promql-check.ts';

interface Target { refId: string; expr: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: unknown[] }
interface Variable { name: string; type: string; query: string | { query: string } }
interface Dashboard { uid: string; title: string; schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

const DASHBOARD_FILE = path.join(PROJECT_ROOT, 'deploy', 'grafana', 'mec-overview.json');
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;

/** Every PromQL query of the dashboard: panel targets and label_values(...) variables. */
function queriesOf(board: Dashboard): string[] {
  const queries = board.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  for (const variable of board.templating.list) {
    if (variable.type !== 'query') continue;
    const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const labelValues = parseLabelValues(text);
    if (labelValues === undefined) throw new Error(`variable ${variable.name}: not a label_values() query: ${text}`);
    queries.push(`sum by (${labelValues.label}) (${labelValues.expr})`);
  }
  return queries;
}

/** Labels Prometheus adds at scrape time: job, instance, and the target_labels of the rendered ConfigMaps. */
function scrapeLabelsFromManifests(): string[] {
  const labels = new Set(['job', 'instance']);
  const root = path.join(PROJECT_ROOT, 'deploy', 'kubernetes');
  for (const blueprint of readdirSync(root)) {
    const file = path.join(root, blueprint, '10-configmap-prometheus.yaml');
    const configMap = parseYaml(readFileSync(file, 'utf8')) as { data: Record<string, string> };
    const prometheus = parseYaml(configMap.data['prometheus.yml']!) as { scrape_configs: { honor_labels?: boolean; relabel_configs?: { target_label?: string }[] }[] };
    for (const scrape of prometheus.scrape_configs) {
      // honor_labels: true would let a series' own label silently win over a target label; the checker assumes the default.
      expect(scrape.honor_labels ?? false).toBe(false);
      for (const relabel of scrape.relabel_configs ?? []) {
        if (relabel.target_label !== undefined && !relabel.target_label.startsWith('__')) labels.add(relabel.target_label);
      }
    }
  }
  return [...labels].sort();
}

describe('grafana dashboard', () => {
  let node: RunningNode | undefined;
  const exported = new Map<string, ExportedMetric>();
  let scrapeLabels: string[] = [];

  beforeAll(async () => {
    scrapeLabels = scrapeLabelsFromManifests();
    node = await startNode(
      loadConfig({ server: { port: 0 }, runtime: { workers: 1 }, models: { load: ['defect'] }, streams: { mqtt: { enabled: false } }, log: { level: 'silent' } }),
    );
    const response = await fetch(`${node.url}/metrics`);
    expect(response.status).toBe(200);
    const types = typesFromExposition(await response.text());
    // Label names are not in the exposition until a series exists: read them from a registry built by the same code.
    const reference = createMetrics({ defaultMetrics: false });
    try {
      for (const [name, type] of types) {
        const metric = reference.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
        exported.set(name, { type, labels: metric?.labelNames ?? [] });
      }
      // Every family of metrics.ts must be in the node's output, or the node wires metrics differently.
      const missing = reference.registry.getMetricsAsArray().map((metric) => (metric as unknown as { name: string }).name).filter((name) => !types.has(name));
      expect(missing).toEqual([]);
    } finally {
      reference.close();
    }
  });

  afterAll(async () => {
    await node?.close({ force: true });
  });

  it('is what deploy/grafana/build-dashboard.mjs builds (the JSON is never edited by hand)', async () => {
    const { buildDashboard } = await import('../../deploy/grafana/build-dashboard.mjs');
    expect(JSON.parse(JSON.stringify(buildDashboard()))).toEqual(dashboard);
  });

  it('has the shape Grafana imports: schemaVersion 39, variables, unique ids, a grid without overlaps', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBe('mec-overview');
    const variables = Object.fromEntries(dashboard.templating.list.map((variable) => [variable.name, variable]));
    expect(variables.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.job?.type).toBe('query');
    expect(variables.node_tier?.type).toBe('query');
    expect(variables.tier).toBeUndefined();
    expect(variables.pod?.type).toBe('query');

    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title)).toEqual(['Placement', 'Inference', 'Cameras', 'Jobs', 'Sync', 'HTTP']);

    const cells = new Map<string, number>();
    for (const panel of dashboard.panels) {
      const { h, w, x, y } = panel.gridPos;
      for (const value of [h, w, x, y]) expect(Number.isInteger(value) && value >= 0).toBe(true);
      expect(h).toBeGreaterThan(0);
      expect(w).toBeGreaterThan(0);
      expect(x + w).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row += 1) {
        for (let column = x; column < x + w; column += 1) {
          const key = `${column},${row}`;
          expect(cells.get(key), `panel ${panel.id} overlaps panel ${cells.get(key)} at ${key}`).toBeUndefined();
          cells.set(key, panel.id);
        }
      }
      if (panel.type === 'row') {
        expect(panel.targets).toBeUndefined();
        continue;
      }
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
      const refIds = panel.targets!.map((target) => target.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(typeof target.expr).toBe('string');
        expect(target.expr.length).toBeGreaterThan(0);
        // Every query follows the job/node_tier/pod variables, so the dashboard narrows as a whole.
        expect(target.expr).toContain('job=~"$job"');
        expect(target.expr).toContain('node_tier=~"$node_tier"');
        expect(target.expr).toContain('pod=~"$pod"');
        expect(target.expr).not.toContain('exported_');
      }
    }
    expect(dashboard.panels.filter((panel) => panel.type !== 'row').length).toBe(29);
  });

  it('names only metrics and labels that a real node exports', () => {
    expect(scrapeLabels).toEqual(['instance', 'job', 'node', 'node_tier', 'pod']);
    // No family, on the dashboard or not, has a label a scrape label would rename to exported_<label>.
    const collisions = [...exported].flatMap(([name, family]) => family.labels.filter((label) => scrapeLabels.includes(label)).map((label) => `${name}.${label}`));
    expect(collisions).toEqual([]);
    expect(exported.get('mec_placement_decisions_total')?.labels).toContain('tier');
    const queries = queriesOf(dashboard);
    expect(queries.length).toBe(41);
    const problems = queries.flatMap((query) => checkQuery(query, exported, scrapeLabels));
    expect(problems).toEqual([]);
    // The placement panels group by the metrics' own tier (the tier that served), which the scrape config leaves alone.
    const placementGroupings = queries.filter((query) => query.includes('mec_placement_')).map((query) => parseQuery(query).groupingLabels);
    expect(placementGroupings.filter((labels) => labels.includes('tier')).length).toBe(4);

    // The rows answer the questions of the brief: each of these families is on the dashboard.
    const familyOf = (written: string): string => (exported.has(written) ? written : written.replace(/_(bucket|sum|count)$/, ''));
    const used = new Set(queries.flatMap((query) => parseQuery(query).metrics.map((use) => familyOf(use.written))));
    const required = [
      'mec_placement_decisions_total', 'mec_placement_rejections_total', 'mec_placement_latency_seconds', 'mec_joint_inference_upload_ratio',
      'mec_request_phase_seconds', 'mec_runtime_utilisation_ratio', 'mec_runtime_queued_requests', 'mec_inference_batch_size',
      'mec_stream_frames_total', 'mec_stream_defects_total', 'mec_stream_frame_to_result_seconds',
      'mec_jobs_submitted_total', 'mec_jobs_rejected_total', 'mec_jobs_completed_total', 'mec_jobs_unfinished', 'mec_jobs_executions_total',
      'mec_sync_applied_total', 'mec_sync_rejected_total', 'mec_sync_resource_version', 'mec_sync_last_success_timestamp_seconds',
      'mec_http_requests_total', 'mec_http_requests_in_flight',
    ];
    expect(required.filter((name) => !used.has(name))).toEqual([]);
    // A family added to metrics.ts shows up here until it is put on the dashboard (or listed as left off on purpose).
    const leftOff = [...exported.keys()].filter((name) => (name.startsWith('mec_') || name.startsWith('nv_')) && !used.has(name));
    expect(leftOff.sort()).toEqual(['nv_inference_compute_input_duration_us', 'nv_inference_compute_output_duration_us', 'nv_inference_request_duration_us']);
  });

  it('reads metric names and grouping labels out of a query', () => {
    const parsed = parseQuery(
      'histogram_quantile(0.99, sum by (le, tier, kind) (rate(mec_placement_latency_seconds_bucket{job=~"$job", kind="predicted"}[$__rate_interval]))) / on (pod) group_left () max(mec_runtime_workers offset 5m) > bool 1e3',
    );
    expect(parsed.metrics.map((use) => [use.written, use.matcherLabels])).toEqual([
      ['mec_placement_latency_seconds_bucket', ['job', 'kind']],
      ['mec_runtime_workers', []],
    ]);
    expect(parsed.groupingLabels).toEqual(['le', 'tier', 'kind', 'pod']);
  });

  it('BAD CALL - a dashboard expr naming an unknown metric is caught', () => {
    const broken: Dashboard = structuredClone(dashboard);
    const panel = broken.panels.find((candidate) => candidate.title === 'Defects per camera')!;
    panel.targets![0]!.expr = 'sum by (camera) (rate(mec_stream_defect_total{job=~"$job", pod=~"$pod"}[$__rate_interval]))';
    const problems = queriesOf(broken).flatMap((query) => checkQuery(query, exported, scrapeLabels));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^unknown metric mec_stream_defect_total /);
  });

  it('BAD CALL - a label the metric does not have, in a matcher or a grouping, is caught', () => {
    expect(checkQuery('sum(rate(mec_http_requests_total{status="500"}[5m]))', exported, scrapeLabels)).toEqual([
      'mec_http_requests_total has no label "status" (labels: route, method, status_code; in: sum(rate(mec_http_requests_total{status="500"}[5m])))',
    ]);
    expect(checkQuery('sum by (camera) (rate(mec_jobs_submitted_total[5m]))', exported, scrapeLabels)).toHaveLength(1);
    // Two families combined: the label must exist on both.
    expect(checkQuery('sum by (task) (rate(mec_jobs_executions_total[5m])) / sum by (task) (rate(mec_jobs_completed_total[5m]))', exported, scrapeLabels)).toHaveLength(2);
    // exported_<label> exists only where a scrape label collides with the metric's own, and none does.
    expect(checkQuery('sum by (exported_task) (rate(mec_jobs_submitted_total[5m]))', exported, scrapeLabels)).toHaveLength(1);
  });

  it('BAD CALL - exported_tier, the old workaround for a colliding scrape label, is caught in a grouping and a matcher', () => {
    expect(checkQuery('sum by (exported_tier, reason) (rate(mec_placement_decisions_total[5m]))', exported, scrapeLabels)).toEqual([
      'grouping label "exported_tier" exists only where a scrape label collides with a metric\'s own; use the metric\'s own label name (in: sum by (exported_tier, reason) (rate(mec_placement_decisions_total[5m])))',
    ]);
    expect(checkQuery('mec_placement_decisions_total{exported_tier="mec"}', exported, scrapeLabels)).toHaveLength(1);
    // The same queries with the metric's own name pass.
    expect(checkQuery('sum by (tier, reason) (rate(mec_placement_decisions_total[5m]))', exported, scrapeLabels)).toEqual([]);
    expect(checkQuery('mec_placement_decisions_total{tier="mec"}', exported, scrapeLabels)).toEqual([]);

    const broken: Dashboard = structuredClone(dashboard);
    const panel = broken.panels.find((candidate) => candidate.title === 'Decisions per tier and reason')!;
    panel.targets![0]!.expr = panel.targets![0]!.expr.replace('sum by (tier, reason)', 'sum by (exported_tier, reason)');
    const problems = queriesOf(broken).flatMap((query) => checkQuery(query, exported, scrapeLabels));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^grouping label "exported_tier" exists only where/);
  });

  it('BAD CALL - a scrape config whose target label `tier` collides with the placement metrics\' own is caught', () => {
    // The ConfigMap as it was before node_tier: every use of a metric with its own `tier` is reported.
    const colliding = [...scrapeLabels, 'tier'];
    const problems = queriesOf(dashboard).flatMap((query) => checkQuery(query, exported, colliding));
    expect(problems).toHaveLength(4);
    for (const problem of problems) expect(problem).toMatch(/^mec_placement_(decisions_total|latency_seconds_bucket)'s own label "tier" collides with the scrape label "tier"/);
  });

  it('BAD CALL - histogram suffixes on a non-histogram, a bare histogram, le without buckets and tier on a metric without it are caught', () => {
    expect(checkQuery('mec_jobs_unfinished_count', exported, scrapeLabels)).toEqual(['unknown metric mec_jobs_unfinished_count (in: mec_jobs_unfinished_count)']);
    expect(checkQuery('rate(mec_request_phase_seconds[5m])', exported, scrapeLabels)[0]).toMatch(/is a histogram/);
    expect(checkQuery('sum by (le) (rate(mec_request_phase_seconds_sum[5m]))', exported, scrapeLabels)[0]).toMatch(/^by \(le\) without a histogram _bucket/);
    expect(checkQuery('mec_request_phase_seconds_count{le="1"}', exported, scrapeLabels)).toHaveLength(1);
    // node_tier is a scrape label, on every series; `tier` is a label of the placement metrics only.
    expect(checkQuery('sum by (tier) (rate(mec_http_requests_total[5m]))', exported, scrapeLabels)[0]).toMatch(/^grouping label "tier" is not a label of mec_http_requests_total/);
    expect(checkQuery('sum by (node_tier) (rate(mec_http_requests_total[5m]))', exported, scrapeLabels)).toEqual([]);
    expect(checkQuery('{__name__="mec_jobs_unfinished"}', exported, scrapeLabels)[0]).toMatch(/^selector without a metric name/);
  });
});
