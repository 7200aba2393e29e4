/**
 * Builds deploy/grafana/mec-overview.json: run `node deploy/grafana/build-dashboard.mjs` after an edit
 * here, never edit the JSON by hand (the grid positions are computed; test/deploy/grafana.test.ts
 * fails when the JSON and this file disagree). Every query takes the job/node_tier/pod variables
 * (node_tier: the scrape config's label for the tier of the node that exported the series; a
 * metric's own `tier`, as on the placement metrics, is the tier that served and stays `tier`).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function buildDashboard() {
  const DS = { type: 'prometheus', uid: '${datasource}' };
  const S = 'job=~"$job", node_tier=~"$node_tier", pod=~"$pod"';
  const R = '[$__rate_interval]';
  const panels = [];
  let id = 0;
  // The grid is filled left to right: a panel that does not fit on the current line starts the next one.
  let y = 0;
  let rowX = 0;
  let rowH = 0;
  const newLine = () => {
    y += rowH;
    rowX = 0;
    rowH = 0;
  };
  function row(title) {
    if (rowX) newLine();
    id += 1;
    panels.push({ id, type: 'row', title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
  }
  function panel(title, description, targets, { type = 'timeseries', unit = 'short', w = 8, h = 8, extra = {} } = {}) {
    if (rowX + w > 24) newLine();
    id += 1;
    const p = { id, type, title, description, datasource: DS, gridPos: { h, w, x: rowX, y },
      fieldConfig: { defaults: { unit }, overrides: [] }, options: {},
      targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), datasource: DS, expr, legendFormat, range: true })), ...extra };
    if (type === 'timeseries') p.options = { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } };
    if (type === 'stat') p.options = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', textMode: 'auto' };
    panels.push(p);
    rowX += w;
    rowH = Math.max(rowH, h);
  }
  const q = (quantile, metric, by, filter = '') => `histogram_quantile(${quantile}, sum by (le, ${by}) (rate(${metric}_bucket{${S}${filter}}${R})))`;

  row('Placement');
  panel('Decisions per tier and reason', 'Which tier served each request and why (lowest-latency, spill-over, only-eligible, pinned, fallback); tier "none" means rejected. tier is the tier that served; node_tier is the tier of the node that decided.',
    [[`sum by (tier, reason) (rate(mec_placement_decisions_total{${S}}${R}))`, '{{tier}} / {{reason}}']], { unit: 'reqps' });
  panel('Decisions per data class', 'Where each data class went: restricted data must stay at the edge.',
    [[`sum by (data_class, tier) (rate(mec_placement_decisions_total{${S}}${R}))`, '{{data_class}} -> {{tier}}']], { unit: 'reqps' });
  panel('Rejections by code', 'Requests no tier could take, by error code (see docs/errors.md).',
    [[`sum by (task, code) (rate(mec_placement_rejections_total{${S}}${R}))`, '{{task}} {{code}}']], { unit: 'reqps' });
  panel('Predicted vs actual latency (p50, p99)', 'The cost model\'s prediction against the measured latency, per tier: lines far apart mean the estimators are off.',
    [[q(0.5, 'mec_placement_latency_seconds', 'tier, kind'), 'p50 {{tier}} {{kind}}'], [q(0.99, 'mec_placement_latency_seconds', 'tier, kind'), 'p99 {{tier}} {{kind}}']], { unit: 's', w: 12 });
  panel('Joint inference: upload ratio', 'Windowed: hard examples sent to a farther tier over answers looked at; "since start" is the node\'s own uploadCloudRatio gauge.',
    [[`sum by (task) (rate(mec_joint_inference_uploads_total{${S}}${R})) / sum by (task) (rate(mec_joint_inference_total{${S}}${R}))`, '{{task}} (window)'],
     [`avg by (task) (mec_joint_inference_upload_ratio{${S}})`, '{{task}} (since start)'],
     [`sum by (task) (rate(mec_joint_inference_hard_examples_total{${S}}${R})) / sum by (task) (rate(mec_joint_inference_total{${S}}${R}))`, '{{task}} hard-example ratio']], { unit: 'percentunit', w: 12 });

  row('Inference');
  panel('Request rate per task', 'Finished task requests per second, by task and outcome code (OK when it succeeded).',
    [[`sum by (task, code) (rate(mec_task_requests_total{${S}}${R}))`, '{{task}} {{code}}']], { unit: 'reqps' });
  panel('Latency per task (p50, p99)', 'Whole request time (phase="total") of successful requests.',
    [[q(0.5, 'mec_request_phase_seconds', 'task', ', phase="total"'), 'p50 {{task}}'], [q(0.99, 'mec_request_phase_seconds', 'task', ', phase="total"'), 'p99 {{task}}']], { unit: 's' });
  panel('Time per phase (mean)', 'Mean seconds per phase: decode, preprocess, queue, infer, postprocess. Queue growing while infer stays flat means the pool is saturated.',
    [[`sum by (task, phase) (rate(mec_request_phase_seconds_sum{${S}, phase!="total"}${R})) / sum by (task, phase) (rate(mec_request_phase_seconds_count{${S}, phase!="total"}${R}))`, '{{task}} {{phase}}']], { unit: 's' });
  panel('Queue vs infer time per model (Triton counters)', 'Microseconds per successful request waiting for a worker and running the model.',
    [[`sum by (model) (rate(nv_inference_queue_duration_us{${S}}${R})) / sum by (model) (rate(nv_inference_request_success{${S}}${R}))`, 'queue {{model}}'],
     [`sum by (model) (rate(nv_inference_compute_infer_duration_us{${S}}${R})) / sum by (model) (rate(nv_inference_request_success{${S}}${R}))`, 'infer {{model}}']], { unit: 'µs' });
  panel('Worker utilisation', 'Busy inference workers over workers, per pod.',
    [[`max by (pod) (mec_runtime_utilisation_ratio{${S}})`, '{{pod}}'], [`sum(mec_runtime_workers_busy{${S}}) / sum(mec_runtime_workers{${S}})`, 'all pods']], { unit: 'percentunit' });
  panel('Queued requests', 'Requests waiting for a worker, all models, per pod.',
    [[`sum by (pod) (mec_runtime_queued_requests{${S}})`, '{{pod}}']]);
  panel('Batch size per model', 'p50 of the run size that served each request, and the mean requests per model execution.',
    [[`histogram_quantile(0.5, sum by (le, model) (rate(mec_inference_batch_size_bucket{${S}}${R})))`, 'p50 {{model}}'],
     [`sum by (model) (rate(nv_inference_count{${S}}${R})) / sum by (model) (rate(nv_inference_exec_count{${S}}${R}))`, 'mean {{model}}']]);
  panel('Inference failures by code', 'Failed inference requests (queue full, timeout, run failed) per model and code.',
    [[`sum by (model, code) (rate(nv_inference_request_failure{${S}}${R}))`, '{{model}} {{code}}']], { unit: 'reqps', w: 16 });

  row('Cameras');
  panel('Frames per camera by outcome', 'received, inspected, dropped (superseded by a newer frame), error.',
    [[`sum by (camera, outcome) (rate(mec_stream_frames_total{${S}}${R}))`, '{{camera}} {{outcome}}']], { unit: 'fps', w: 12 });
  panel('Dropped frames ratio', 'Dropped over received per camera: above 0 means the camera sends faster than the node inspects.',
    [[`sum by (camera) (rate(mec_stream_frames_total{${S}, outcome="dropped"}${R})) / sum by (camera) (rate(mec_stream_frames_total{${S}, outcome="received"}${R}))`, '{{camera}}']], { unit: 'percentunit', w: 12 });
  panel('Defects per camera', 'Frames found defective per second.',
    [[`sum by (camera) (rate(mec_stream_defects_total{${S}}${R}))`, '{{camera}}']], { unit: 'fps' });
  panel('Frame errors by code', 'Frames answered with an error.',
    [[`sum by (camera, code) (rate(mec_stream_errors_total{${S}}${R}))`, '{{camera}} {{code}}']], { unit: 'fps' });
  panel('Frame to result p99', 'Capture (or arrival) of a frame to its result being sent.',
    [[q(0.99, 'mec_stream_frame_to_result_seconds', 'camera'), '{{camera}}']], { unit: 's' });

  row('Jobs');
  panel('Submitted per task', 'Jobs accepted by POST /v1/jobs (idempotent replays not counted).',
    [[`sum by (task) (rate(mec_jobs_submitted_total{${S}}${R}))`, '{{task}}']], { unit: 'reqps' });
  panel('Rejected by code', 'Job submissions refused (e.g. Redis down, backlog full).',
    [[`sum by (code) (rate(mec_jobs_rejected_total{${S}}${R}))`, '{{code}}']], { unit: 'reqps' });
  panel('Completed / failed', 'Jobs finished by the workers of these nodes, by task and final state.',
    [[`sum by (task, state) (rate(mec_jobs_completed_total{${S}}${R}))`, '{{task}} {{state}}']], { unit: 'reqps' });
  panel('Unfinished jobs', 'Waiting, delayed and active jobs as last counted at intake; a backlog that only grows means the workers (or the cloud link) are gone.',
    [[`max by (pod) (mec_jobs_unfinished{${S}})`, '{{pod}}']], { w: 12 });
  panel('Executions', 'Job runs started; more runs than finished jobs means retries or re-runs after a worker died.',
    [[`sum(rate(mec_jobs_executions_total{${S}}${R}))`, 'executions'], [`sum(rate(mec_jobs_completed_total{${S}}${R}))`, 'finished']], { unit: 'ops', w: 12 });

  row('Sync');
  panel('Applied / rejected', 'Synced resource versions applied, and rejected (the old one kept serving), by kind and code.',
    [[`sum by (kind) (increase(mec_sync_applied_total{${S}}${R}))`, 'applied {{kind}}'], [`sum by (kind, code) (increase(mec_sync_rejected_total{${S}}${R}))`, 'rejected {{kind}} {{code}}']]);
  panel('Resource versions', 'Version of each synced model and policy per pod: pods on different versions have not converged.',
    [[`max by (pod, kind, name) (mec_sync_resource_version{${S}})`, '{{pod}} {{kind}} {{name}}']], { type: 'table', extra: { transformations: [{ id: 'reduce', options: { reducers: ['lastNotNull'] } }] } });
  panel('Seconds since last successful sync', 'How long each edge has run on its cache (autonomy). No value: this pod never completed a sync (sync off, or never reached the cloud); the gauge is 0 until the first success.',
    [[`time() - max by (pod) (mec_sync_last_success_timestamp_seconds{${S}} > 0)`, '{{pod}}']], { type: 'stat', unit: 's' });

  row('HTTP');
  panel('Requests by route and status', 'Route patterns, never raw URLs.',
    [[`sum by (route, status_code) (rate(mec_http_requests_total{${S}}${R}))`, '{{route}} {{status_code}}']], { unit: 'reqps', w: 12 });
  panel('Request duration p99 by route', 'First byte to response end.',
    [[q(0.99, 'mec_http_request_duration_seconds', 'route'), '{{route}}']], { unit: 's', w: 6 });
  panel('In flight', 'HTTP requests being served now, per pod.',
    [[`sum by (pod) (mec_http_requests_in_flight{${S}})`, '{{pod}}']], { w: 6 });

  const qv = (name, label, query, ref = label) => ({
    name, label, type: 'query', datasource: DS, definition: query, query: { query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    includeAll: true, multi: true, allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] }, refresh: 2, sort: 1, hide: 0, regex: '', options: [],
  });
  const dashboard = {
    uid: 'mec-overview', title: 'MEC nodes: overview', description: 'Placement, inference, cameras, jobs, sync and HTTP of every MEC node (services/metrics/metrics.ts).',
    tags: ['mec', 'edge'], schemaVersion: 39, version: 1, editable: true, graphTooltip: 1, refresh: '30s', timezone: '',
    time: { from: 'now-1h', to: 'now' }, timepicker: {}, fiscalYearStartMonth: 0, liveNow: false, links: [], weekStart: '',
    annotations: { list: [{ builtIn: 1, datasource: { type: 'grafana', uid: '-- Grafana --' }, enable: true, hide: true, iconColor: 'rgba(0, 211, 255, 1)', name: 'Annotations & Alerts', type: 'dashboard' }] },
    templating: { list: [
      { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, includeAll: false, multi: false, options: [], refresh: 1, regex: '' },
      qv('job', 'job', 'label_values(mec_http_requests_in_flight, job)'),
      qv('node_tier', 'node tier', 'label_values(mec_http_requests_in_flight{job=~"$job"}, node_tier)'),
      qv('pod', 'pod', 'label_values(mec_http_requests_in_flight{job=~"$job", node_tier=~"$node_tier"}, pod)'),
    ] },
    panels,
  };
  return dashboard;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = new URL('./mec-overview.json', import.meta.url);
  writeFileSync(file, JSON.stringify(buildDashboard(), null, 2) + '\n');
  console.log(`wrote ${fileURLToPath(file)}`);
}
