/**
 * One configuration schema with documented defaults, validated once at start and frozen.
 * Defaults are sized for the reference machine: 2 cores, a few hundred MB for the node.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { EdgeError } from './errors.ts';

/** The folder of package.json, whether this file runs from services/ (tsx) or dist/services/ (compiled). */
export const PROJECT_ROOT = ((): string => {
  let folder = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(folder, 'package.json')) && path.dirname(folder) !== folder) folder = path.dirname(folder);
  return folder;
})();

/**
 * The defect-inspection models: `defect` covers every surface; each `defect-<surface>` is the same
 * network trained on that surface alone and serves it while loaded (models/inspect/README.md).
 */
export const DEFECT_MODELS: readonly string[] = ['defect', 'defect-gravel', 'defect-grass', 'defect-metal', 'defect-textile'];

const Batching = Type.Object({
  maxBatchSize: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: '1 = no dynamic batching' }),
  maxQueueDelayMs: Type.Number({ minimum: 0, maximum: 1000, default: 2 }),
});

export const ConfigSchema = Type.Object({
  server: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    /** Largest request body on any route; image routes stream-check it and answer 413. */
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
    /** A request whose body is not complete by then is closed with 408 (slowloris guard). */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    /** Idle keep-alive sockets are closed after this. */
    keepAliveTimeoutMs: Type.Integer({ minimum: 100, default: 5_000 }),
    /** Deadline of an inference request when the client gives none. */
    defaultInferTimeoutMs: Type.Integer({ minimum: 10, default: 10_000 }),
    /**
     * Bearer token for admin routes (model load/unload). Unset: only loopback clients may use them,
     * which suits a trial on one machine; set it (MEC_ADMIN_TOKEN) before exposing the node.
     */
    adminToken: Type.Optional(Type.String({ minLength: 16 })),
    /** Deepest JSON nesting accepted on V2 routes (tensors need 3-4 levels). */
    maxJsonDepth: Type.Integer({ minimum: 4, maximum: 256, default: 32 }),
  }),
  runtime: Type.Object({
    /** Worker threads that hold ONNX sessions; the HTTP thread only does I/O. */
    workers: Type.Integer({ minimum: 1, maximum: 64, default: Math.max(1, Math.min(2, os.availableParallelism())) }),
    /** Cores one session run may use (onnxruntime intra-op threads). */
    intraOpThreads: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    /**
     * Linux nice value of the inference threads (0-19). Above 0 the HTTP thread preempts inference,
     * so health checks and request I/O stay fast while every core runs a model.
     */
    workerNice: Type.Integer({ minimum: 0, maximum: 19, default: 10 }),
    /**
     * Run every new session once on zeros before it takes traffic: the first run allocates and picks
     * kernels (several times slower than the next), and a model that cannot run is refused at load.
     * Costs the memory of the first run at idle.
     */
    warmup: Type.Boolean({ default: true }),
    /** Per model: past this many waiting requests, answer 503 at once. */
    maxQueueSize: Type.Integer({ minimum: 1, maximum: 100_000, default: 32 }),
    /** Per model: a request waiting longer than this fails with 503. */
    queueTimeoutMs: Type.Integer({ minimum: 1, default: 5_000 }),
    batching: Batching,
  }),
  tasks: Type.Object({
    /**
     * Task requests (decode + pre-process + infer + post-process) in flight at once; 0 = one per
     * inference worker, plus one more per worker that a spare core can decode for while the worker
     * infers (services/tasks/admission.ts defaultConcurrency). The others wait as compressed bytes, so
     * a burst does not decode hundreds of images ahead of the models.
     */
    concurrency: Type.Integer({ minimum: 0, maximum: 1024, default: 0 }),
    /**
     * Learn the number of places between one per inference worker and `concurrency` from how long a
     * place is held (services/tasks/concurrency-limit.ts): places beyond what the cores serve only
     * add waiting inside the pipeline, and that number depends on the machine. Off by default:
     * docs/overload.md has what it did and did not buy on the 2-core reference machine.
     */
    adaptiveConcurrency: Type.Boolean({ default: false }),
    /** Task requests waiting for admission; past this, 503 EDGE_ERR_QUEUE_FULL at once. */
    maxWaiting: Type.Integer({ minimum: 0, maximum: 100_000, default: 64 }),
    /**
     * A request predicted to wait longer than this for admission (waiters ahead x measured service
     * time / concurrency) is refused at once with 503 EDGE_ERR_QUEUE_FULL; 0 = only maxWaiting.
     * Why 5 (docs/overload.md, CoDel's target too): under sustained overload a short queue keeps
     * every place busy as well as a long one, so a longer target only adds wait to the admitted
     * (measured: admitted median 24-28 ms at 5 vs 40-43 ms at 20, same goodput). Bursts are not
     * held to it: outside a standing queue a request may wait 4 service times.
     */
    maxQueueDelayMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 5 }),
    /**
     * Per-client rate limit on task routes (key: x-tenant, else the client address): past `max`
     * requests in `windowMs`, 429 EDGE_ERR_RATE_LIMITED with Retry-After. max 0 = off.
     */
    rateLimit: Type.Object(
      {
        max: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
        windowMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 1000 }),
      },
      { default: {} },
    ),
  }),
  images: Type.Object({
    /** Decoded pixels allowed (width x height): guards against decompression bombs. */
    maxPixels: Type.Integer({ minimum: 1, default: 40_000_000 }),
    /** Decoded formats accepted, whatever the Content-Type says. */
    formats: Type.Array(Type.Union([Type.Literal('jpeg'), Type.Literal('png'), Type.Literal('webp')]), {
      default: ['jpeg', 'png', 'webp'],
      minItems: 1,
    }),
  }),
  inspection: Type.Object({
    /** Tiles one image may be cut into at the model's scale; larger images are scaled down to fit. */
    maxTiles: Type.Integer({ minimum: 1, maximum: 256, default: 16 }),
    /** Defect regions reported per image, strongest first. */
    maxRegions: Type.Integer({ minimum: 1, maximum: 1000, default: 32 }),
  }),
  streams: Type.Object({
    mqtt: Type.Object({
      /** Subscribe to camera frames on the broker (the node keeps serving HTTP while the broker is away). */
      enabled: Type.Boolean({ default: true }),
      url: Type.String({ default: 'mqtt://127.0.0.1:1883', pattern: '^(mqtts?|wss?|tcp|ssl)://\\S+$' }),
      /** Frames arrive on <prefix>/{cameraId}/frames; results go to .../results and .../alerts. */
      topicPrefix: Type.String({ default: 'mec/cameras', pattern: '^[^#+]+$' }),
      username: Type.Optional(Type.String()),
      password: Type.Optional(Type.String()),
    }),
    /** Cameras served at once over MQTT and WebSocket together; more get EDGE_ERR_STREAM_TOO_MANY_CAMERAS. */
    maxCameras: Type.Integer({ minimum: 1, maximum: 10_000, default: 64 }),
    /** Largest frame accepted (bytes of the compressed image). */
    maxFrameBytes: Type.Integer({ minimum: 1024, default: 4 * 1024 * 1024 }),
    /** An MQTT camera that sent nothing for this long is forgotten (its slot and metrics freed). */
    idleTimeoutMs: Type.Integer({ minimum: 1000, default: 300_000 }),
  }),
  speech: Type.Object({
    /** The acoustic model behind POST /v1/asr (its card names the front-end and voice-activity models it needs). */
    model: Type.String({ default: 'asr' }),
    /** Longest audio accepted by POST /v1/asr (checked from the WAV header, before decoding). */
    maxAudioSeconds: Type.Number({ minimum: 1, maximum: 600, default: 30 }),
    /** Channels a WAV may have (mixed down to mono). */
    maxChannels: Type.Integer({ minimum: 1, maximum: 64, default: 8 }),
    /** Voice activity: a 32-ms frame is speech from this Silero probability up. */
    vadThreshold: Type.Number({ minimum: 0.05, maximum: 0.95, default: 0.4 }),
    /** Speech segments closer than this are recognised together (one utterance with a pause). */
    mergeGapMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 800 }),
    /** Audio kept around each speech segment, so word onsets and tails are not cut. */
    segmentPadMs: Type.Integer({ minimum: 0, maximum: 2_000, default: 300 }),
    stream: Type.Object({
      /** Live WebSocket streams at once; more are refused (close 1013). */
      maxStreams: Type.Integer({ minimum: 1, maximum: 10_000, default: 32 }),
      /** A partial result at most this often while someone speaks. */
      partialIntervalMs: Type.Integer({ minimum: 100, maximum: 10_000, default: 500 }),
      /** Silence that ends an utterance (then a final result). */
      endSilenceMs: Type.Integer({ minimum: 100, maximum: 10_000, default: 700 }),
      /** An utterance longer than this is finalised anyway: bounds the audio a stream holds. */
      maxUtteranceSeconds: Type.Number({ minimum: 1, maximum: 120, default: 20 }),
    }),
  }),
  models: Type.Object({
    /** Folder of model folders, each with card.json and its versions. */
    repository: Type.String({ default: path.join(PROJECT_ROOT, 'models', 'repository') }),
    /** Models loaded at start. */
    load: Type.Array(Type.String(), { default: ['centernet', 'nanodet', 'blazeface', 'emotion', ...DEFECT_MODELS, 'melspec', 'speech_embedding', 'silero_vad', 'asr'] }),
    /** The model behind POST /v1/vision/detect when the request names none. */
    defaultDetector: Type.String({ default: 'centernet' }),
  }),
  placement: Type.Object({
    /** This node's tier: the MEC node near the users, or the cloud (larger variants, farther away). */
    tier: Type.Union([Type.Literal('mec'), Type.Literal('cloud')], { default: 'mec' }),
    /** The placement and privacy policy (YAML, docs/placement.md). */
    policyFile: Type.String({ default: path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml') }),
    /** A MEC node's way to the cloud tier (through the emulated link in a local topology); unset: no cloud. */
    cloudUrl: Type.Optional(Type.String({ pattern: '^https?://\\S+$' })),
    /**
     * How often a MEC node asks the cloud for its load (and measures the link's RTT). Stale load
     * figures cost placement most under bursts (bench:placement): a status is a few hundred bytes.
     */
    heartbeatMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 200 }),
    /** A heartbeat not answered within this counts as missed. */
    heartbeatTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1_000 }),
    /** Missed heartbeats (or failed forwards) in a row after which the cloud counts as unreachable. */
    unreachableAfterMisses: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
    /** The cloud link as assumed before anything is measured. */
    cloudLinkPrior: Type.Object({
      rttMs: Type.Number({ minimum: 0, default: 40 }),
      bandwidthMbit: Type.Number({ exclusiveMinimum: 0, default: 50 }),
    }),
    /**
     * Model variants this tier serves per task, for placement: the MEC node runs the small
     * detector, the cloud the large one. Unset: by tier (mec: nanodet; cloud: centernet).
     */
    serve: Type.Optional(
      Type.Object({
        detect: Type.Array(Type.String()),
        inspect: Type.Array(Type.String()),
        asr: Type.Array(Type.String()),
      }),
    ),
    /**
     * The cost of congestion in placement (services/scheduler/decide.ts): candidates on a tier at
     * least `threshold` busy are ranked by predicted latency + alpha x compute x rho/(1-rho), capped
     * at factorCap. Priced in bench:placement (what-if rows); alpha 0 turns it off.
     */
    congestion: Type.Object({
      alpha: Type.Number({ minimum: 0, maximum: 10, default: 0.1 }),
      threshold: Type.Number({ minimum: 0, maximum: 1, default: 0.8 }),
      factorCap: Type.Number({ minimum: 0, maximum: 1000, default: 9 }),
    }),
    /** Append-only, hash-chained audit log of placement decisions (JSON Lines); unset: none written. */
    auditLog: Type.Optional(Type.String({ minLength: 1 })),
  }),
  offload: Type.Object({
    /**
     * Durable jobs (POST /v1/jobs) through BullMQ on Redis: accepted jobs survive restarts of the
     * node, the worker and Redis (with AOF). Off by default so that a node needs no Redis; `mec up`
     * turns it on.
     */
    enabled: Type.Boolean({ default: false }),
    redisUrl: Type.String({ default: 'redis://127.0.0.1:6379', pattern: '^rediss?://\\S+$' }),
    /** BullMQ key prefix: nodes (or tests) with different prefixes share one Redis without meeting. */
    prefix: Type.String({ default: 'mec', pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    /** Unfinished jobs (waiting, delayed, active, paused) at most; past this, 503 EDGE_ERR_JOBS_FULL. */
    maxJobs: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000 }),
    /** A Redis command not answered within this fails (Redis frozen or gone): intake answers 503 instead of hanging. */
    commandTimeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
    /** Executions of a job before it is failed (a link outage does not spend them). */
    attempts: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
    /** First retry delay; doubles per attempt. */
    backoffMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1_000 }),
    /** Finished jobs (and their results) are kept this long for GET /v1/jobs/{id}. */
    retentionSeconds: Type.Integer({ minimum: 1, maximum: 30 * 86_400, default: 86_400 }),
    worker: Type.Object({
      /** Run the job worker inside this node (a separate `mec worker` process may run as well). */
      embedded: Type.Boolean({ default: true }),
      /** Jobs one worker runs at once. */
      concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 2 }),
      /**
       * A worker holds each running job's lock this long (renewed at half of it): a worker that
       * dies leaves its jobs for others after at most this, plus half of it for the stalled check.
       */
      lockMs: Type.Integer({ minimum: 500, maximum: 600_000, default: 30_000 }),
      /** Time a job's run (one POST to the node's task route) may take before it counts as failed and is retried. */
      runTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000 }),
    }),
  }),
  sync: Type.Object({
    /**
     * Models and policies from the cloud (the source of truth) to this MEC node, with versions:
     * the cloud serves them, the edge pulls (long poll), persists to its cache, then acknowledges.
     */
    enabled: Type.Boolean({ default: false }),
    /** Edge: where synced policies and the sync state are kept (models go to models.repository). */
    cacheDir: Type.Optional(Type.String({ minLength: 1 })),
    /** Edge: how long one long poll waits at the cloud for a change. */
    pollWaitMs: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
    /** Edge: the first wait after a failed poll; doubles up to retryMaxMs. */
    retryMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250 }),
    retryMaxMs: Type.Integer({ minimum: 10, maximum: 300_000, default: 2_000 }),
    /** Cloud: the folder of policy files it publishes (models come from models.repository). */
    policiesDir: Type.String({ default: path.join(PROJECT_ROOT, 'blueprints', 'policies') }),
    /** Cloud: how often the model cards and policy files are rescanned for new versions. */
    rescanMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 250 }),
    /** Edge: the name this node acknowledges under (GET /v1/sync/nodes at the cloud); default host:port. */
    nodeId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' })),
    /**
     * The shared secret of a cloud and its MEC nodes (MEC_SYNC_TOKEN): the cloud's sync routes need
     * it as `Authorization: Bearer <token>`, and the edge sends it. Unset: the cloud's sync routes
     * answer loopback clients only (models and policies are not for anyone who can reach the port).
     */
    token: Type.Optional(Type.String({ minLength: 16 })),
  }),
  log: Type.Object({
    level: Type.Union(
      [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')],
      { default: 'info' },
    ),
  }),
});

export type Config = Static<typeof ConfigSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K] };
export type ConfigInput = DeepPartial<Config>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function withSections(input: ConfigInput): Record<string, unknown> {
  // TypeBox fills defaults of nested objects only where the object exists.
  const copy: Record<string, unknown> = structuredClone(input) as Record<string, unknown>;
  for (const key of ['server', 'runtime', 'tasks', 'images', 'inspection', 'streams', 'speech', 'models', 'placement', 'offload', 'sync', 'log'] as const) copy[key] ??= {};
  (copy.placement as Record<string, unknown>).cloudLinkPrior ??= {};
  (copy.placement as Record<string, unknown>).congestion ??= {};
  (copy.runtime as Record<string, unknown>).batching ??= {};
  (copy.offload as Record<string, unknown>).worker ??= {};
  (copy.streams as Record<string, unknown>).mqtt ??= {};
  (copy.speech as Record<string, unknown>).stream ??= {};
  return copy;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Deep merge of config inputs: objects merge key by key, anything else (arrays too) is replaced. */
export function mergeConfig(base: ConfigInput, override: ConfigInput): ConfigInput {
  const merge = (a: unknown, b: unknown): unknown => {
    if (!isPlainObject(a) || !isPlainObject(b)) return b === undefined ? a : b;
    const out: Record<string, unknown> = { ...a };
    for (const [key, value] of Object.entries(b)) out[key] = merge(a[key], value);
    return out;
  };
  return merge(base, override) as ConfigInput;
}

/** Keys the schema does not know (a typo would otherwise be dropped in silence), as /a/b paths. */
function unknownKeys(schema: { properties?: Record<string, unknown> }, value: unknown, at = ''): string[] {
  if (!schema.properties || !isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const child = schema.properties![key] as { properties?: Record<string, unknown> } | undefined;
    return child === undefined ? [`${at}/${key}`] : unknownKeys(child, inner, `${at}/${key}`);
  });
}

/** Validates once, fills defaults, freezes. Errors say which field and what is expected. */
export function loadConfig(input: ConfigInput = {}): Readonly<Config> {
  const candidate = Value.Default(ConfigSchema, withSections(input));
  const problems = [
    ...unknownKeys(ConfigSchema, input).map((path) => ({ path, message: 'unknown setting (see services/core/config.ts)' })),
    ...Value.Errors(ConfigSchema, candidate),
  ];
  if (problems.length > 0) {
    const lines = problems.slice(0, 10).map((problem) => `${problem.path || '/'}: ${problem.message}`);
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `invalid configuration: ${lines.join('; ')}`, {
      details: { problems: lines },
    });
  }
  return deepFreeze(Value.Clean(ConfigSchema, candidate) as Config);
}
