/**
 * The ONE prom-client registry of a node and every metric name. Core code never calls this: it
 * publishes on the diagnostics channels of services/core/events.ts and the metrics subscribe.
 * Triton's names where Triton has one (nv_inference_*: cumulative counters in microseconds),
 * plus histograms in seconds by phase, HTTP counts, in-flight requests and the worker pool's
 * utilisation (read from the runtime at scrape time).
 *
 * Each createMetrics() has its own registry, so several nodes (or tests) in one process never
 * collide; close() unsubscribes from the channels.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuntimeUtilisation } from '../core/contracts.ts';
import { channels, type InferenceEvent, type PlacementEvent, type RejectionEvent, type StreamCameraClosedEvent, type StreamFrameEvent, type TaskEvent } from '../core/events.ts';

export interface MetricsOptions {
  /** Read on every scrape for the pool gauges. */
  runtime?: { utilisation(): RuntimeUtilisation };
  /** Process metrics (memory, CPU, event loop lag, GC): on by default. */
  defaultMetrics?: boolean;
}

/** A sync agent's event (services/sync/sync-agent.ts SyncAgentEvent has this shape). */
export type SyncMetricEvent =
  | { type: 'applied'; kind: string; name: string; version: number }
  | { type: 'held'; kind: string; name: string; version: number }
  | { type: 'rejected'; kind: string; name: string; version: number; code: string }
  | { type: 'success'; at: number };

/** A durable-jobs event (services/offload: IntakeEvent and WorkerEvent have these shapes). */
export type JobMetricEvent =
  | { kind: 'submitted'; task: string }
  | { kind: 'rejected'; code: string }
  | { kind: 'unfinished'; count: number }
  | { kind: 'execution'; task: string }
  | { kind: 'finished'; task: string; state: 'completed' | 'failed' };

export interface HttpRequestLabels {
  /** The route pattern (e.g. /v2/models/:model/infer), never the raw URL: bounded cardinality. */
  route: string;
  method: string;
  status: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text for GET /metrics. */
  render(): Promise<string>;
  httpRequestStarted(): void;
  httpRequestFinished(labels: HttpRequestLabels, seconds: number): void;
  /** One placement decision of this node (the dispatcher reports it; see node.ts). */
  placementDecided(event: PlacementEvent): void;
  /** What the sync agent did (node.ts forwards its events). */
  syncEvent(event: SyncMetricEvent): void;
  /** What job intake and the embedded job workers did (node.ts forwards their events). */
  jobEvent(event: JobMetricEvent): void;
  /** Unsubscribes from the diagnostics channels. Idempotent. */
  close(): void;
}

export const PHASES = ['decode', 'preprocess', 'queue', 'infer', 'postprocess', 'total'] as const;

const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const US_PER_MS = 1000;

const STREAM_OUTCOMES: readonly StreamFrameEvent['outcome'][] = ['received', 'inspected', 'dropped', 'error'];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const modelLabels = ['model', 'version'] as const;
  // --- Triton's counters -----------------------------------------------------------------------
  const success = new Counter({ name: 'nv_inference_request_success', help: 'Successful inference requests', labelNames: modelLabels, registers });
  const failure = new Counter({
    name: 'nv_inference_request_failure',
    help: 'Failed inference requests (queue full, timeout, run failed...), by error code',
    labelNames: [...modelLabels, 'code'],
    registers,
  });
  const inferenceCount = new Counter({ name: 'nv_inference_count', help: 'Inferences performed', labelNames: modelLabels, registers });
  const execCount = new Counter({
    name: 'nv_inference_exec_count',
    help: 'Model executions (a batch of n requests counts 1; each request adds 1/n)',
    labelNames: modelLabels,
    registers,
  });
  const requestUs = new Counter({ name: 'nv_inference_request_duration_us', help: 'Cumulative queue + compute time, microseconds', labelNames: modelLabels, registers });
  const queueUs = new Counter({ name: 'nv_inference_queue_duration_us', help: 'Cumulative time requests waited in the queue, microseconds', labelNames: modelLabels, registers });
  const inputUs = new Counter({ name: 'nv_inference_compute_input_duration_us', help: 'Cumulative input preparation time, microseconds', labelNames: modelLabels, registers });
  const inferUs = new Counter({ name: 'nv_inference_compute_infer_duration_us', help: 'Cumulative model run time, microseconds', labelNames: modelLabels, registers });
  const outputUs = new Counter({ name: 'nv_inference_compute_output_duration_us', help: 'Cumulative output extraction time, microseconds', labelNames: modelLabels, registers });
  const batchSize = new Histogram({
    name: 'mec_inference_batch_size',
    help: 'Requests served by the run that served each request',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers,
  });

  // --- Task phases -----------------------------------------------------------------------------
  const phaseSeconds = new Histogram({
    name: 'mec_request_phase_seconds',
    help: 'Time per phase of a task request (decode, preprocess, queue, infer, postprocess, total)',
    labelNames: ['task', 'model', 'phase'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const taskRequests = new Counter({
    name: 'mec_task_requests_total',
    help: 'Finished task requests by outcome code (OK when it succeeded)',
    labelNames: ['task', 'model', 'code'],
    registers,
  });

  // --- HTTP ------------------------------------------------------------------------------------
  const httpRequests = new Counter({
    name: 'mec_http_requests_total',
    help: 'HTTP requests by route pattern, method and status code',
    labelNames: ['route', 'method', 'status_code'],
    registers,
  });
  const httpSeconds = new Histogram({
    name: 'mec_http_request_duration_seconds',
    help: 'HTTP request time from first byte to response end',
    labelNames: ['route', 'method'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({ name: 'mec_http_requests_in_flight', help: 'HTTP requests being served now', registers });

  // --- Camera streams (label cardinality bounded by streams.maxCameras; series go with the camera) ---
  const streamFrames = new Counter({
    name: 'mec_stream_frames_total',
    help: 'Camera frames by outcome: received, inspected, dropped (superseded by a newer frame), error',
    labelNames: ['camera', 'transport', 'outcome'],
    registers,
  });
  const streamDefects = new Counter({ name: 'mec_stream_defects_total', help: 'Camera frames found defective (teach-in frames, declared defect-free, not counted)', labelNames: ['camera', 'transport'], registers });
  const streamErrors = new Counter({ name: 'mec_stream_errors_total', help: 'Camera frames answered with an error, by code', labelNames: ['camera', 'transport', 'code'], registers });
  const errorCodesOf = new Map<string, Set<string>>();
  const streamLatency = new Histogram({
    name: 'mec_stream_frame_to_result_seconds',
    help: 'Capture (or arrival) of a frame to its result being sent',
    labelNames: ['camera', 'transport'],
    buckets: SECONDS_BUCKETS,
    registers,
  });

  // --- Worker pool, read at scrape time --------------------------------------------------------
  const runtime = options.runtime;
  const utilisation = (): RuntimeUtilisation => runtime?.utilisation() ?? { workers: 0, busyWorkers: 0, queued: 0 };
  new Gauge({ name: 'mec_runtime_workers', help: 'Inference worker threads', registers, collect() { this.set(utilisation().workers); } });
  new Gauge({ name: 'mec_runtime_workers_busy', help: 'Worker threads running a model now', registers, collect() { this.set(utilisation().busyWorkers); } });
  new Gauge({ name: 'mec_runtime_queued_requests', help: 'Requests waiting for a worker, all models', registers, collect() { this.set(utilisation().queued); } });
  new Gauge({
    name: 'mec_runtime_utilisation_ratio',
    help: 'Busy workers / workers',
    registers,
    collect() {
      const { workers, busyWorkers } = utilisation();
      this.set(workers === 0 ? 0 : busyWorkers / workers);
    },
  });

  // --- Subscriptions ---------------------------------------------------------------------------
  const onInference = (message: unknown): void => {
    const event = message as InferenceEvent;
    const labels = { model: event.model, version: event.version };
    if (!event.ok) {
      failure.inc({ ...labels, code: event.code ?? 'EDGE_ERR_INFERENCE_FAILED' });
      return;
    }
    success.inc(labels);
    inferenceCount.inc(labels);
    execCount.inc(labels, 1 / Math.max(1, event.batchSize));
    queueUs.inc(labels, event.queueMs * US_PER_MS);
    inputUs.inc(labels, event.inputMs * US_PER_MS);
    inferUs.inc(labels, event.inferMs * US_PER_MS);
    outputUs.inc(labels, event.outputMs * US_PER_MS);
    requestUs.inc(labels, (event.queueMs + event.inputMs + event.inferMs + event.outputMs) * US_PER_MS);
    batchSize.observe({ model: event.model }, event.batchSize);
  };
  const onRejection = (message: unknown): void => {
    const event = message as RejectionEvent;
    failure.inc({ model: event.model, version: event.version, code: event.code });
  };
  const onTask = (message: unknown): void => {
    const event = message as TaskEvent;
    taskRequests.inc({ task: event.task, model: event.model, code: event.ok ? 'OK' : (event.code ?? 'EDGE_ERR_INTERNAL') });
    if (!event.ok) return;
    const seconds: Record<(typeof PHASES)[number], number> = {
      decode: event.decodeMs,
      preprocess: event.preprocessMs,
      queue: event.queueMs,
      infer: event.inferMs,
      postprocess: event.postprocessMs,
      total: event.totalMs,
    };
    for (const phase of PHASES) phaseSeconds.observe({ task: event.task, model: event.model, phase }, seconds[phase] / 1000);
  };
  const onStreamFrame = (message: unknown): void => {
    const event = message as StreamFrameEvent;
    const labels = { camera: event.cameraId, transport: event.transport };
    streamFrames.inc({ ...labels, outcome: event.outcome });
    if (event.outcome === 'error') {
      const code = event.code ?? 'EDGE_ERR_INTERNAL';
      streamErrors.inc({ ...labels, code });
      const key = `${event.transport}:${event.cameraId}`;
      errorCodesOf.set(key, (errorCodesOf.get(key) ?? new Set()).add(code));
    }
    if (event.outcome !== 'inspected') return;
    if (event.defective) streamDefects.inc(labels);
    if (event.frameToResultMs !== undefined) streamLatency.observe(labels, Math.max(0, event.frameToResultMs) / 1000);
  };
  const onStreamCameraClosed = (message: unknown): void => {
    const { cameraId, transport } = message as StreamCameraClosedEvent;
    const labels = { camera: cameraId, transport };
    // prom-client removes a series only by its full label set.
    for (const outcome of STREAM_OUTCOMES) streamFrames.remove({ ...labels, outcome });
    const key = `${transport}:${cameraId}`;
    for (const code of errorCodesOf.get(key) ?? []) streamErrors.remove({ ...labels, code });
    errorCodesOf.delete(key);
    streamDefects.remove(labels);
    streamLatency.remove(labels);
  };
  // --- Placement: decisions per tier and reason, predictions against outcomes, joint inference ---
  const placementDecisions = new Counter({
    name: 'mec_placement_decisions_total',
    help: 'Placement decisions by the tier that served the request and the reason (lowest-latency, spill-over, only-eligible, pinned, fallback); tier "none" = rejected',
    labelNames: ['task', 'tier', 'reason', 'data_class'],
    registers,
  });
  const placementRejections = new Counter({ name: 'mec_placement_rejections_total', help: 'Requests no tier could take, by error code', labelNames: ['task', 'code'], registers });
  const placementLatency = new Histogram({
    name: 'mec_placement_latency_seconds',
    help: 'Request latency as placed, by tier and kind (predicted by the cost model, actual as measured)',
    labelNames: ['task', 'tier', 'kind'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  // Sedna's joint inference counters: inferenceNumber, hardExampleNumber, and uploads to the cloud.
  const jointInferences = new Counter({ name: 'mec_joint_inference_total', help: 'Answers that joint inference looked at (inferenceNumber)', labelNames: ['task'], registers });
  const jointHard = new Counter({ name: 'mec_joint_inference_hard_examples_total', help: 'Answers found hard by the filter (hardExampleNumber)', labelNames: ['task'], registers });
  const jointUploads = new Counter({ name: 'mec_joint_inference_uploads_total', help: 'Hard examples answered by a farther tier', labelNames: ['task'], registers });
  const jointCounts = new Map<string, { inferences: number; uploads: number }>();
  new Gauge({
    name: 'mec_joint_inference_upload_ratio',
    help: 'Uploads to the cloud over inferences (uploadCloudRatio)',
    labelNames: ['task'],
    registers,
    collect() {
      for (const [task, counts] of jointCounts) this.set({ task }, counts.inferences === 0 ? 0 : counts.uploads / counts.inferences);
    },
  });
  const onPlacement = (event: PlacementEvent): void => {
    // A fallback's reason carries the failure's message: keep only its kind (bounded labels).
    const reason = event.reason.split(':')[0] ?? event.reason;
    placementDecisions.inc({ task: event.task, tier: event.tier, reason, data_class: event.dataClass });
    if (event.rejected !== undefined) placementRejections.inc({ task: event.task, code: event.rejected });
    if (event.predictedMs !== undefined) placementLatency.observe({ task: event.task, tier: event.tier, kind: 'predicted' }, event.predictedMs / 1000);
    if (event.actualMs !== undefined) placementLatency.observe({ task: event.task, tier: event.tier, kind: 'actual' }, event.actualMs / 1000);
    if (event.jointInference && event.rejected === undefined) {
      const counts = jointCounts.get(event.task) ?? { inferences: 0, uploads: 0 };
      counts.inferences += 1;
      jointInferences.inc({ task: event.task });
      if (event.hardExample) jointHard.inc({ task: event.task });
      if (event.escalated) {
        counts.uploads += 1;
        jointUploads.inc({ task: event.task });
      }
      jointCounts.set(event.task, counts);
    }
  };

  // --- Sync (cloud -> edge models and policies) ---------------------------------------------------
  const syncApplied = new Counter({ name: 'mec_sync_applied_total', help: 'Synced resource versions applied, by kind (model, policy)', labelNames: ['kind'], registers });
  const syncRejected = new Counter({ name: 'mec_sync_rejected_total', help: 'Synced resource versions rejected (the old one kept serving), by kind and error code', labelNames: ['kind', 'code'], registers });
  const syncVersion = new Gauge({ name: 'mec_sync_resource_version', help: 'Version of each synced resource this node holds', labelNames: ['kind', 'name'], registers });
  const syncLastSuccess = new Gauge({ name: 'mec_sync_last_success_timestamp_seconds', help: 'When the edge last completed a sync round with the cloud (Unix seconds)', registers });
  const onSync = (event: SyncMetricEvent): void => {
    if (event.type === 'applied' || event.type === 'held') {
      if (event.type === 'applied') syncApplied.inc({ kind: event.kind });
      syncVersion.set({ kind: event.kind, name: event.name }, event.version);
    } else if (event.type === 'rejected') {
      syncRejected.inc({ kind: event.kind, code: event.code });
    } else {
      syncLastSuccess.set(event.at / 1000);
    }
  };

  // --- Durable jobs (services/offload) -----------------------------------------------------------
  const jobsSubmitted = new Counter({ name: 'mec_jobs_submitted_total', help: 'Jobs accepted by POST /v1/jobs (idempotent replays not counted), by task', labelNames: ['task'], registers });
  const jobsRejected = new Counter({ name: 'mec_jobs_rejected_total', help: 'Job submissions refused, by error code', labelNames: ['code'], registers });
  const jobsCompleted = new Counter({ name: 'mec_jobs_completed_total', help: 'Jobs finished by this node\'s workers, by task and final state (completed, failed)', labelNames: ['task', 'state'], registers });
  const jobsExecutions = new Counter({ name: 'mec_jobs_executions_total', help: 'Job runs started by this node\'s workers (more than jobs: retries and re-runs after a worker died)', registers });
  const jobsUnfinished = new Gauge({ name: 'mec_jobs_unfinished', help: 'Unfinished jobs (waiting, delayed, active) as last counted at intake', registers });
  const onJob = (event: JobMetricEvent): void => {
    if (event.kind === 'submitted') jobsSubmitted.inc({ task: event.task });
    else if (event.kind === 'rejected') jobsRejected.inc({ code: event.code });
    else if (event.kind === 'unfinished') jobsUnfinished.set(event.count);
    else if (event.kind === 'execution') jobsExecutions.inc();
    else jobsCompleted.inc({ task: event.task, state: event.state });
  };

  const subscriptions: [{ subscribe(fn: (message: unknown) => void): void; unsubscribe(fn: (message: unknown) => void): unknown }, (message: unknown) => void][] = [
    [channels.inference, onInference],
    [channels.rejection, onRejection],
    [channels.task, onTask],
    [channels.streamFrame, onStreamFrame],
    [channels.streamCameraClosed, onStreamCameraClosed],
  ];
  for (const [channel, listener] of subscriptions) channel.subscribe(listener);

  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    httpRequestStarted: () => inFlight.inc(),
    httpRequestFinished(labels, seconds) {
      inFlight.dec();
      httpRequests.inc({ route: labels.route, method: labels.method, status_code: String(labels.status) });
      httpSeconds.observe({ route: labels.route, method: labels.method }, seconds);
    },
    placementDecided: onPlacement,
    jobEvent: onJob,
    syncEvent: onSync,
    close() {
      if (closed) return;
      closed = true;
      for (const [channel, listener] of subscriptions) channel.unsubscribe(listener);
    },
  };
}
