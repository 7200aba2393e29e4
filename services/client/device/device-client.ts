/**
 * The device tier: the SDK an app or a camera embeds. It holds small models and runs them itself,
 * and for each request asks the shared placement engine (services/scheduler) where it runs: here,
 * on the MEC node, or in the cloud through the MEC node. The device-side twin of
 * services/dispatch/dispatcher.ts:
 *   1. resolve the data class, deadline and wishes with the same policy and rules as the nodes;
 *   2. build three tier views - this device (own load, compute learned from its own runs), the MEC
 *      node (link measured by heartbeats and uploads; load and variants from its status) and the
 *      cloud (both links, the second as the MEC node measures it; load and variants as the MEC node
 *      last heard them) - and ask decide() with self 'device';
 *   3. run it here, or strip metadata and send it to the MEC node pinned to the chosen tier (the
 *      MEC node forwards cloud-pinned requests); if the MEC node cannot be reached or fails and
 *      time remains, run it here;
 *   4. learn from what was observed, and answer with the placement explained.
 *
 * On Node the models run on onnxruntime-node through the project's runtime (services/runtime is its
 * only importer). A browser build would register onnxruntime-web behind the same runtime contract.
 */
import { loadConfig, type Config } from '../../core/config.ts';
import type { ModelRepository } from '../../core/contracts.ts';
import { EdgeError, toEdgeError } from '../../core/errors.ts';
import { COMPUTE_PRIOR_MS, TRANSFORM_PRIOR_MS, VARIANTS } from '../../dispatch/catalog.ts';
import { planRequest } from '../../dispatch/placement-request.ts';
import type { PlacementReport } from '../../dispatch/dispatcher.ts';
import { createLocalTasks, type LocalTasks } from '../../dispatch/local-tasks.ts';
import { readRequestMeta, type RequestMeta } from '../../dispatch/request-meta.ts';
import { contentTypeFor, payloadKind, routeFor, type TaskInput } from '../../dispatch/task-input.ts';
import { assertModelsInRepository, createRepository } from '../../registry/index.ts';
import { createRuntime } from '../../runtime/index.ts';
import { decide, type EgressAnswer, type Placement, type PlacementContext } from '../../scheduler/decide.ts';
import { egressRule } from '../../scheduler/egress.ts';
import { ComputeEstimator, TransformCosts, type LinkEstimate } from '../../scheduler/estimators.ts';
import { policyVersion, resolveDataClass, type PlacementPolicy } from '../../scheduler/policy.ts';
import { loadPolicyFile } from '../../scheduler/policy-file.ts';
import type { TierView, VariantView } from '../../scheduler/predict.ts';
import type { DataClass, PlacementTask, Tier, Transform } from '../../scheduler/types.ts';
import { admissionGateFor, type AdmissionGate } from '../../tasks/admission.ts';
import { createInspectionTasks } from '../../tasks/inspection/index.ts';
import { createPrivacyTransforms, type PrivacyTransforms } from '../../tasks/privacy/index.ts';
import { createSpeechTasks } from '../../tasks/speech/index.ts';
import { createVisionTasks } from '../../tasks/vision/index.ts';
import { connectPeer, type Peer } from '../../tiers/peer.ts';
import { toVariantView, type TierStatus } from '../../tiers/tier-status.ts';
import { isTierFailure, refusalOf, REFUSING_STATUS_FRESH_MS } from '../../tiers/tier-failure.ts';

export interface DeviceClientOptions {
  /** The MEC node, e.g. http://127.0.0.1:8081 (the device-mec link of `mec up`). */
  mecUrl: string;
  /** Small models held and run on the device (default ['nanodet']). */
  models?: string[];
  /** The placement policy (default: the configuration's, blueprints/policies/default.yaml). */
  policyFile?: string;
  /** Sent as x-tenant; the policy may give a tenant's data a stricter class (default 'anonymous'). */
  tenant?: string;
  /** How often the MEC node's status is asked for (default: the configuration's, 500 ms). */
  heartbeatMs?: number;
  /** Model repository folder (default models/repository). */
  repository?: string;
  /** Inference worker threads on the device (default 1). */
  workers?: number;
  /**
   * Emulates a slower device SoC (a phone, a camera) on this machine: the device's OWN compute
   * estimates are its observed run times multiplied by this factor (default 1). Only placement
   * sees it - local runs take what they take, and answers report the real times.
   */
  deviceSlowdown?: number;
}

/** Per request; validated as the headers they become (docs/placement.md). */
export interface PlacedCallOptions {
  /** public | internal | restricted (default: the policy's for the tenant and task). */
  dataClass?: string;
  /** Time the whole request may take, ms: a hard deadline (default: the policy's, a soft one). */
  deadlineMs?: number;
  /** Least accurate model variant acceptable, 0..1. */
  minAccuracy?: number;
  /** Run on this tier if policy allows and it can be reached, not where placement would. */
  pin?: Tier;
  signal?: AbortSignal;
}

export interface DetectCallOptions extends PlacedCallOptions {
  threshold?: number;
  max?: number;
}

export interface InspectCallOptions extends PlacedCallOptions {
  surface: string;
  threshold?: number;
}

/** The node's placement report, and - when another tier answered - that tier's own report. */
export interface DevicePlacement extends PlacementReport {
  remote?: PlacementReport;
}

export interface DeviceAnswer {
  result: Record<string, unknown>;
  placement: DevicePlacement;
}

/** The device-mec hop until heartbeats and uploads measure it (5G or Wi-Fi; `mec up`'s emulated link defaults). */
const DEVICE_MEC_LINK_PRIOR = Object.freeze({ rttMs: 5, bandwidthMbit: 100 });
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

const round = (ms: number): number => Math.round(ms * 100) / 100;

/** What a local run or an answer of the MEC node came to. */
interface Outcome {
  result: Record<string, unknown>;
  tier: Tier;
  model: string;
  variant: string;
  reason: string;
  transforms: Transform[];
  remote?: PlacementReport;
}

interface DeviceParts {
  config: Readonly<Config>;
  policy: PlacementPolicy;
  repository: ModelRepository;
  admission: AdmissionGate;
  local: LocalTasks;
  transforms: PrivacyTransforms;
  mec: Peer;
  tenant: string;
  slowdown: number;
}

export class DeviceClient {
  /** Compute times of the device's own runs, on this machine (the slowdown is applied when read). */
  readonly compute = new ComputeEstimator();
  readonly #parts: DeviceParts;
  readonly #transformCosts = new TransformCosts(TRANSFORM_PRIOR_MS);
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  private constructor(parts: DeviceParts) {
    this.#parts = parts;
    for (const model of this.models) this.compute.prior('device', model, COMPUTE_PRIOR_MS[model] ?? 50);
  }

  static async start(options: DeviceClientOptions): Promise<DeviceClient> {
    const { mecUrl, tenant = 'anonymous', deviceSlowdown = 1 } = options;
    const mecOrigin = originOf(mecUrl);
    if (!TENANT.test(tenant)) throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `tenant must be 1-64 letters, digits, dot, dash or underscore; got ${JSON.stringify(tenant)}`);
    if (!(Number.isFinite(deviceSlowdown) && deviceSlowdown > 0)) {
      throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `deviceSlowdown must be a number above 0 (1 = this machine's speed); got ${String(deviceSlowdown)}`);
    }
    const models = options.models ?? ['nanodet'];
    const config = loadConfig({
      log: { level: 'silent' },
      runtime: { workers: options.workers ?? 1 },
      models: { load: models, ...(options.repository === undefined ? {} : { repository: options.repository }) },
      streams: { mqtt: { enabled: false } },
      placement: {
        ...(options.policyFile === undefined ? {} : { policyFile: options.policyFile }),
        ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      },
    });
    // The policy is checked before the models load: a bad file fails at once.
    const policy = await loadPolicyFile(config.placement.policyFile);
    const runtime = createRuntime(config);
    let repository: ModelRepository | undefined;
    let mec: DeviceParts['mec'] | undefined;
    try {
      repository = await createRepository({ config, runtime });
      assertModelsInRepository(repository, models, config.models.repository);
      const held = repository;
      const loaded = () => new Set(held.index().filter((entry) => entry.state === 'READY').map((entry) => entry.name));
      const admission = admissionGateFor(config);
      const vision = createVisionTasks({ repository, config, admission });
      const inspection = createInspectionTasks({ repository, config, admission });
      const speech = createSpeechTasks({ repository, config, admission });
      mec = connectPeer('mec', mecOrigin, config.placement, DEVICE_MEC_LINK_PRIOR);
      const { monitor } = mec;
      // The first decision should see the MEC node's status; a MEC node that does not answer leaves
      // the device working on its own (it is retried on every heartbeat).
      await monitor.beat();
      monitor.start();
      return new DeviceClient({
        config,
        policy,
        repository,
        admission,
        local: createLocalTasks({ vision, inspection, speech }, loaded),
        transforms: createPrivacyTransforms({ vision, limits: { maxPixels: config.images.maxPixels, formats: config.images.formats } }),
        mec,
        tenant,
        slowdown: deviceSlowdown,
      });
    } catch (error) {
      await mec?.monitor.stop();
      await mec?.client.close();
      await (repository ?? runtime).close({ force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** The models the device holds and can run now. */
  get models(): string[] {
    return [...new Set(this.#parts.repository.index().filter((entry) => entry.state === 'READY').map((entry) => entry.name))];
  }

  /** The MEC node as the heartbeat last saw it (and, in it, the MEC node's view of the cloud). */
  get mecStatus(): TierStatus | undefined {
    return this.#parts.mec.monitor.status;
  }

  get mecReachable(): boolean {
    return this.#parts.mec.monitor.reachable;
  }

  /** Objects in an image (JPEG, PNG or WebP), on the tier placement picks. */
  async detect(image: Uint8Array, options: DetectCallOptions = {}): Promise<DeviceAnswer> {
    const { threshold, max } = options;
    return this.#track({ task: 'detect', bytes: bytesOf(image), params: { ...(threshold === undefined ? {} : { threshold }), ...(max === undefined ? {} : { max }) } }, options);
  }

  /** Defects on a surface; the device takes part only when it holds the `defect` model. */
  async inspect(image: Uint8Array, options: InspectCallOptions): Promise<DeviceAnswer> {
    const { surface, threshold } = options;
    return this.#track({ task: 'inspect', bytes: bytesOf(image), params: { surface, ...(threshold === undefined ? {} : { threshold }) } }, options);
  }

  /** Idempotent. Graceful by default: requests in flight finish first; force stops the models at once. */
  close(options: { force?: boolean } = {}): Promise<void> {
    this.#closed ??= (async () => {
      if (!options.force) await Promise.allSettled([...this.#inFlight]);
      await this.#parts.mec.monitor.stop();
      await this.#parts.mec.client.close();
      await this.#parts.repository.close(options);
    })();
    return this.#closed;
  }

  #track(input: TaskInput, call: PlacedCallOptions): Promise<DeviceAnswer> {
    if (this.#closed) return Promise.reject(new EdgeError('EDGE_ERR_SHUTTING_DOWN', 'the device client is closed'));
    const running = this.#run(input, call);
    this.#inFlight.add(running);
    const forget = () => this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  async #run(input: TaskInput, call: PlacedCallOptions): Promise<DeviceAnswer> {
    const started = performance.now();
    const { policy, config } = this.#parts;
    const version = policyVersion(policy);
    const meta = this.#meta(call);
    const dataClass = resolveDataClass(policy, { ...(meta.dataClassHeader === undefined ? {} : { header: meta.dataClassHeader }), tenant: meta.tenant, task: input.task });
    const ownModels = this.#ownModels(input.task);
    // The surface is checked here only when the device could run it; otherwise the MEC node checks it.
    if (ownModels.length > 0) this.#parts.local.check(input);
    const { request, hard, deadlineMs, timeoutMs } = planRequest(input, meta, dataClass, policy, config.server.defaultInferTimeoutMs);
    const context = this.#context(version);
    const views = this.#views(input.task, ownModels);
    let decision = decide(request, views, context);
    if (!decision.feasible && !hard && decision.why === 'infeasible') {
      const relaxed = decide({ ...request, deadlineMs: Number.POSITIVE_INFINITY }, views, context);
      if (relaxed.feasible) decision = { ...relaxed, reason: 'best-effort' };
    }
    if (!decision.feasible) {
      const code = decision.why === 'privacy' ? 'EDGE_ERR_PRIVACY_DENIED' : 'EDGE_ERR_PLACEMENT_INFEASIBLE';
      throw new EdgeError(code, decision.message, {
        details: { alternatives: decision.alternatives, policy_version: version, data_class: dataClass, deadline_ms: deadlineMs },
        ...(code === 'EDGE_ERR_PLACEMENT_INFEASIBLE' ? { retryAfterSeconds: 1 } : {}),
      });
    }

    const remaining = () => timeoutMs - (performance.now() - started);
    const outcome: Outcome =
      decision.tier === 'device'
        ? { result: await this.#runHere(input, decision.model, remaining(), call.signal), tier: 'device', model: decision.model, variant: decision.variant, reason: decision.reason, transforms: [] }
        : await this.#runThere(input, meta, dataClass, decision, ownModels, remaining, call.signal);
    return {
      result: outcome.result,
      placement: {
        tier: outcome.tier,
        model: outcome.model,
        variant: outcome.variant,
        reason: outcome.reason,
        predicted_ms: decision.predicted_ms,
        actual_ms: round(performance.now() - started),
        // Joint inference is the MEC node's: a device answer is never escalated by the device.
        escalated: false,
        alternatives: decision.alternatives,
        policy_version: version,
        data_class: dataClass,
        transforms: outcome.transforms,
        ...(outcome.remote ? { remote: outcome.remote } : {}),
      },
    };
  }

  /** The call's wishes, checked by the very rules that check them as headers on a node. */
  #meta(call: PlacedCallOptions): RequestMeta {
    const headers: Record<string, string> = { 'x-tenant': this.#parts.tenant };
    if (call.dataClass !== undefined) headers['x-data-class'] = String(call.dataClass);
    if (call.deadlineMs !== undefined) headers['x-deadline-ms'] = String(call.deadlineMs);
    if (call.minAccuracy !== undefined) headers['x-min-accuracy'] = String(call.minAccuracy);
    if (call.pin !== undefined) headers['x-placement-tier'] = String(call.pin);
    return readRequestMeta(headers);
  }

  async #runHere(input: TaskInput, model: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    if (timeoutMs <= 0) throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', 'the request\'s deadline passed before it could start on the device');
    const outcome = await this.#parts.local.run(input, model, { timeoutMs, ...(signal ? { signal } : {}) });
    const timings = outcome.result.timings as { total_ms?: number; queue_ms?: number } | undefined;
    if (timings?.total_ms !== undefined) this.compute.observe('device', model, timings.total_ms - (timings.queue_ms ?? 0));
    return outcome.result;
  }

  async #runThere(
    input: TaskInput,
    meta: RequestMeta,
    dataClass: DataClass,
    decision: Placement,
    ownModels: string[],
    remaining: () => number,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    try {
      return await this.#send(input, meta, dataClass, decision, Math.max(1, remaining()), signal);
    } catch (error) {
      const failure = toEdgeError(error);
      // Only a failure of the link or of the far tiers falls back; their verdict on the input stands.
      if (signal?.aborted || !isTierFailure(failure)) throw failure;
      const model = ownModels[0];
      if (model === undefined || remaining() <= 0) throw failure;
      const result = await this.#runHere(input, model, remaining(), signal);
      return { result, tier: 'device', model, variant: VARIANTS[model]?.variant ?? 'small', reason: `fallback: ${failure.message}`, transforms: [] };
    }
  }

  /** Strips what must not leave the device and posts the data to the MEC node, pinned to the chosen tier. */
  async #send(input: TaskInput, meta: RequestMeta, dataClass: DataClass, decision: Placement, timeoutMs: number, signal: AbortSignal | undefined): Promise<Outcome> {
    const { policy, mec, transforms } = this.#parts;
    // The gate, asked again right before any byte leaves: every byte goes to the MEC node first.
    const hop = egressRule(policy, dataClass, 'mec');
    if (!hop.allowed) throw new EdgeError('EDGE_ERR_PRIVACY_DENIED', `${dataClass} data may not leave the device for the MEC node: ${hop.reason}`);
    const far = egressRule(policy, dataClass, decision.tier);
    if (!far.allowed) throw new EdgeError('EDGE_ERR_PRIVACY_DENIED', `${dataClass} data may not reach the ${decision.tier} tier: ${far.reason}`);
    const started = performance.now();
    // What the device-mec hop demands (metadata always); the MEC node applies the cloud's own rule.
    const transformed = await transforms.apply(hop.transforms, input.bytes, payloadKind(input.task), { timeoutMs, ...(signal ? { signal } : {}) });
    this.#transformCosts.observe(transformed.applied, transformed.ms);
    const left = timeoutMs - (performance.now() - started);
    if (left <= 0) throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', 'the deadline passed while preparing the data for the MEC node');
    try {
      const response = await mec.client.post(routeFor(input, decision.model), transformed.bytes, contentTypeFor(input), {
        // Whole ms: AbortSignal.timeout() refuses a fractional delay.
        timeoutMs: Math.max(1, Math.floor(left)),
        ...(signal ? { signal } : {}),
        headers: {
          // Offloaded, the choice between the MEC node and the cloud is the MEC node's: it knows
          // its own queue exactly and the cloud as of its last heartbeat, the device both only as
          // of its own last heartbeat. Only a caller's pin is passed on.
          ...(meta.pin === undefined ? {} : { 'x-placement-tier': meta.pin }),
          'x-forwarded-tier': 'device',
          'x-data-class': dataClass,
          'x-tenant': meta.tenant,
          'x-deadline-ms': String(Math.max(1, Math.floor(left))),
        },
      });
      mec.monitor.reportSuccess();
      const body = response.body as Record<string, unknown> & { placement?: PlacementReport };
      const remote = body.placement;
      // The MEC node's own time (its compute, and the cloud's round trip) is not the link's.
      mec.monitor.link.observeTransfer(transformed.bytes.length + JSON.stringify(body).length, response.elapsedMs - (remote?.actual_ms ?? 0));
      const { placement: _remote, ...result } = body;
      // The MEC node may have answered itself after the cloud failed: the report says where it ran.
      const ranAsDecided = remote === undefined || remote.tier === decision.tier;
      return {
        result,
        tier: remote?.tier ?? decision.tier,
        model: remote?.model ?? decision.model,
        variant: remote?.variant ?? decision.variant,
        reason: ranAsDecided ? decision.reason : remote.reason,
        transforms: transformed.applied,
        ...(remote ? { remote } : {}),
      };
    } catch (error) {
      const failure = toEdgeError(error);
      mec.monitor.reportCallFailure(failure);
      throw failure;
    }
  }

  /** The models the device holds for a task, in the order it was given them. */
  #ownModels(task: PlacementTask): string[] {
    const ready = new Set(this.models);
    return [...new Set(this.#parts.config.models.load)].filter((model) => ready.has(model) && VARIANTS[model]?.task === task);
  }

  #context(version: string): PlacementContext {
    const { policy } = this.#parts;
    // The cloud is reached through the MEC node: data that may not reach the MEC node cannot reach it.
    const egress = (dataClass: DataClass, to: Tier): EgressAnswer => {
      const rule = egressRule(policy, dataClass, to);
      if (!rule.allowed || to !== 'cloud') return rule;
      const hop = egressRule(policy, dataClass, 'mec');
      if (!hop.allowed) return { allowed: false, reason: `the cloud is reached through the MEC node, and ${hop.reason}` };
      return { allowed: true, transforms: [...new Set([...hop.transforms, ...rule.transforms])] };
    };
    // Transforms not yet done on the device (faces, done by the MEC node before the cloud) cost what the MEC node reports.
    const transformMs = { ...(this.#parts.mec.monitor.status?.transform_ms ?? {}), ...this.#transformCosts.snapshot() };
    return { self: 'device', egress, transformMs, policyVersion: version, congestion: this.#parts.config.placement.congestion };
  }

  #views(task: PlacementTask, ownModels: string[]): TierView[] {
    const { monitor } = this.#parts.mec;
    const status = monitor.status;
    const mecLink = monitor.link.estimate();
    const mecReachable = monitor.reachable;
    const mecDown = mecReachable ? undefined : `MEC node: ${monitor.view().unreachable_because ?? 'no heartbeat'}`;
    const cloud = status?.cloud;
    const cloudDown = mecDown ?? (cloud === undefined ? 'the MEC node has no cloud tier' : cloud.reachable ? undefined : `the MEC node cannot reach it: ${cloud.unreachable_because ?? 'no heartbeat'}`);
    const mecRefusal = monitor.refusal();
    const cloudLink: LinkEstimate = { rttMs: cloud?.rtt_ms ?? 0, bytesPerMs: Math.max(1e-3, cloud?.bytes_per_ms ?? 1) };
    return [
      {
        tier: 'device',
        reachable: true,
        path: [],
        load: { inSystem: this.#parts.admission.inside + this.#parts.admission.waiting, workers: this.#parts.config.runtime.workers },
        variants: ownModels.map((model) => this.#ownVariant(model)),
      },
      {
        tier: 'mec',
        reachable: mecReachable,
        ...(mecDown === undefined ? {} : { unreachableBecause: mecDown }),
        path: [mecLink],
        load: {
          inSystem: status?.load.in_system ?? 0,
          workers: status?.load.workers ?? 1,
          ageMs: monitor.statusAgeMs(),
          growthPerMs: (status?.load.growth_per_s ?? 0) / 1000,
          ...(status?.load.work_ms_per_s === undefined ? {} : { workPerMs: status.load.work_ms_per_s / 1000 }),
        },
        variants: (status?.serves[task] ?? []).map(toVariantView),
        ...mecRefusal,
      },
      {
        tier: 'cloud',
        reachable: cloudDown === undefined,
        ...(cloudDown === undefined ? {} : { unreachableBecause: cloudDown }),
        path: [mecLink, cloudLink],
        load: {
          inSystem: cloud?.status?.load.in_system ?? 0,
          workers: cloud?.status?.load.workers ?? 1,
          ageMs: monitor.statusAgeMs() + (cloud?.status_age_ms ?? 0),
          growthPerMs: (cloud?.status?.load.growth_per_s ?? 0) / 1000,
          ...(cloud?.status?.load.work_ms_per_s === undefined ? {} : { workPerMs: cloud.status.load.work_ms_per_s / 1000 }),
        },
        variants: (cloud?.status?.serves[task] ?? []).map(toVariantView),
        // The cloud is reached through the MEC node, which decides again: a refusing MEC node refuses it too.
        ...(mecRefusal.refusing ? mecRefusal : refusalOf(0, cloud?.refusing_for_ms !== undefined || (cloud?.status?.load.refusing === true && (cloud.status_age_ms ?? 0) < REFUSING_STATUS_FRESH_MS))),
      },
    ];
  }

  /** A variant the device holds, its compute as learned here times the emulated slowdown. */
  #ownVariant(model: string): VariantView {
    const info = VARIANTS[model];
    const estimate = this.compute.estimate('device', model);
    const { slowdown } = this.#parts;
    return {
      model,
      variant: info?.variant ?? 'small',
      accuracy: info?.accuracy ?? 0,
      computeMs: (estimate?.meanMs ?? COMPUTE_PRIOR_MS[model] ?? 50) * slowdown,
      computeStdMs: (estimate?.stdMs ?? 0) * slowdown,
    };
  }
}

/** The MEC node's scheme, host and port: its routes are absolute paths, so nothing else of the URL is used. */
function originOf(url: unknown): string {
  const parsed = typeof url === 'string' && URL.canParse(url) ? new URL(url) : undefined;
  if (parsed === undefined || !['http:', 'https:'].includes(parsed.protocol) || parsed.pathname !== '/' || parsed.search !== '') {
    throw new EdgeError('EDGE_ERR_CONFIG_INVALID', `mecUrl must be the http(s) URL of a MEC node with no path, e.g. http://127.0.0.1:8081; got ${JSON.stringify(url)}`);
  }
  return parsed.origin;
}

function bytesOf(image: Uint8Array): Buffer {
  if (!(image instanceof Uint8Array)) throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `the image must be bytes (a Uint8Array or Buffer), got ${typeof image}`);
  if (image.length === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'the image is empty');
  return Buffer.from(image.buffer, image.byteOffset, image.byteLength);
}



