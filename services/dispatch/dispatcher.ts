/**
 * Carries out placement for one node: the one place where the scheduler, the tasks, the other
 * tiers and the privacy transforms meet. For each request:
 *   1. read its data class, deadline and wishes; refuse data this tier may not even hold;
 *   2. build the view of every tier (own load, the cloud's heartbeat, learned compute and links)
 *      and ask the pure engine (services/scheduler) for a decision; an infeasible request is
 *      rejected at once, with every tier's prediction in the error;
 *   3. write the decision to the audit log and the metrics;
 *   4. run it here, or transform (strip metadata, blur faces) and send it to the cloud - falling
 *      back to running here if the cloud fails and time remains;
 *   5. joint inference: a low-confidence local answer is escalated to the cloud's larger variant
 *      when policy and the time left allow; if the cloud fails or is late, the local answer stands;
 *   6. feed what was observed back to the estimators, and answer with the placement explained.
 */
import { createHash } from 'node:crypto';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import type { PlacementEvent } from '../core/events.ts';
import type { AuditEntry } from '../audit/audit-log.ts';
import { ComputeEstimator, TransformCosts } from '../scheduler/estimators.ts';
import { decide, type Alternative, type CongestionCost, type EgressAnswer, type Placement, type PlacementContext } from '../scheduler/decide.ts';
import { isHardExample, planEscalation } from '../scheduler/hard-example.ts';
import type { TierLoad, TierView, VariantView } from '../scheduler/predict.ts';
import { egressRule } from '../scheduler/egress.ts';
import { policyVersion, resolveDataClass, type PlacementPolicy } from '../scheduler/policy.ts';
import type { DataClass, PlacementTask, Tier, Transform } from '../scheduler/types.ts';
import type { TierClient } from '../tiers/tier-client.ts';
import type { PeerMonitor } from '../tiers/peer-monitor.ts';
import { toVariantView, type ServedVariant, type TierStatus } from '../tiers/tier-status.ts';
import { isTierFailure } from '../tiers/tier-failure.ts';
import { RateMeter } from './rate-meter.ts';
import { planRequest } from './placement-request.ts';
import { COMPUTE_PRIOR_MS, TRANSFORM_PRIOR_MS, VARIANTS, type ServeTable } from './catalog.ts';
import type { LocalTasks } from './local-tasks.ts';
import type { RequestMeta } from './request-meta.ts';
import { contentTypeFor, payloadKind, routeFor, type TaskInput } from './task-input.ts';

/** The `placement` member of every answer. */
export interface PlacementReport {
  tier: Tier;
  model: string;
  variant: string;
  reason: string;
  predicted_ms: number;
  actual_ms: number;
  escalated: boolean;
  alternatives: Alternative[];
  policy_version: string;
  data_class: DataClass;
  /** Transforms done before the data left this tier. */
  transforms: Transform[];
  /** Joint inference: whether the local answer was a hard example, and what became of escalating it. */
  hard_example?: boolean;
  escalation?: { tier: Tier; model: string; outcome: 'answered' | 'failed' | 'skipped'; because?: string };
}

export interface DispatchResult {
  result: Record<string, unknown>;
  placement: PlacementReport;
}

/** What the node reports of each decision (metrics subscribe; see node.ts). */
export type DecisionEvent = PlacementEvent;

export interface AuditSink {
  append(entry: AuditEntry): Promise<void>;
}

export interface TransformSink {
  apply(transforms: Transform[], bytes: Uint8Array, kind: 'image' | 'audio', options: { timeoutMs: number; signal?: AbortSignal }): Promise<{ bytes: Buffer; applied: string[]; ms: number }>;
}

export interface DispatcherOptions {
  self: 'mec' | 'cloud';
  policy: () => PlacementPolicy;
  serve: ServeTable;
  local: LocalTasks;
  /** Requests in this node's system now, and how many it runs at once. */
  load: () => { inSystem: number; workers: number };
  /** Whether this node's task gate refuses new work now (services/tasks/admission.ts refusesNow). */
  refusing?: () => boolean;
  /** Requests the task gate lets in at once now. */
  places?: () => number;
  /**
   * Why a privacy transform cannot run on this node now (undefined: it can). A tier whose egress
   * rule needs one that cannot is not a candidate: the data may not leave untransformed, and
   * choosing it would only fail after the decision.
   */
  transformUnavailable?: (transform: Transform) => string | undefined;
  transforms: TransformSink;
  /** The cloud, for a MEC node. */
  cloud?: { client: TierClient; monitor: PeerMonitor };
  audit?: AuditSink;
  onDecision?: (event: DecisionEvent) => void;
  /** The deadline of a request when neither the caller nor the policy gives one. */
  fallbackDeadlineMs: number;
  /** The congestion cost in ranking candidates (config placement.congestion). */
  congestion?: CongestionCost;
}

/** Who answered, with what, and (for a local answer) how sure it was. */
interface Outcome {
  result: Record<string, unknown>;
  tier: Tier;
  model: string;
  variant: string;
  reason: string;
  transforms: Transform[];
  confidence?: number;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

export class Dispatcher {
  readonly compute = new ComputeEstimator();
  readonly #options: DispatcherOptions;
  readonly #transformCosts = new TransformCosts(TRANSFORM_PRIOR_MS);
  /**
   * Requests decided for this node and not finished. Counted from the decision on, so a burst's
   * later requests see the earlier ones before those reach the task gate (decode, audit and
   * admission happen after deciding).
   */
  #placedHere = 0;
  /** Requests placed here and finished here, for the growth rate the heartbeat reports. */
  readonly #arrivals = new RateMeter();
  /** When this node's uploads to the cloud queued so far will have left (the link as a FIFO). */
  #uplinkBusyUntil = 0;
  readonly #completions = new RateMeter();
  /** Estimated compute (ms) of the work placed here: what the node's utilisation is reported from. */
  readonly #work = new RateMeter();

  constructor(options: DispatcherOptions) {
    this.#options = options;
    for (const models of Object.values(options.serve)) {
      for (const model of models) this.compute.prior(options.self, model, COMPUTE_PRIOR_MS[model] ?? 50);
    }
  }

  /** Requests in this node now: the task gate's, or those decided here and not yet in it, whichever is more. */
  #load(): TierLoad {
    const load = this.#options.load();
    return { inSystem: Math.max(load.inSystem, this.#placedHere), workers: load.workers, workPerMs: this.#work.perMs() };
  }

  /**
   * Arrivals and completions over the last second, and their difference when it is more than
   * Poisson noise (twice the standard deviation of a difference of counts): at light load the
   * difference is mostly noise, and extrapolating noise would only bias others' queue figures up.
   */
  #growth(): { arrivals_per_s: number; completions_per_s: number; growth_per_s: number; work_ms_per_s: number } {
    const arrivals = this.#arrivals.perMs() * 1000;
    const completions = this.#completions.perMs() * 1000;
    const difference = arrivals - completions;
    const significant = Math.abs(difference) > 2 * Math.sqrt(arrivals + completions);
    const round = (value: number) => Math.round(value * 100) / 100;
    return { arrivals_per_s: round(arrivals), completions_per_s: round(completions), growth_per_s: significant ? round(difference) : 0, work_ms_per_s: round(this.#work.perMs() * 1000) };
  }

  /** This node as other tiers see it on the heartbeat. */
  status(): TierStatus {
    const load = this.#load();
    const serves: TierStatus['serves'] = {};
    for (const [task, models] of Object.entries(this.#options.serve) as [PlacementTask, readonly string[]][]) {
      serves[task] = models.map((model) => this.#served(model));
    }
    return {
      tier: this.#options.self,
      policy_version: policyVersion(this.#options.policy()),
      load: {
        in_system: load.inSystem,
        workers: load.workers,
        ...this.#growth(),
        ...(this.#options.places ? { places: this.#options.places() } : {}),
        ...(this.#options.refusing?.() ? { refusing: true } : {}),
      },
      serves,
      transform_ms: this.#transformCosts.snapshot(),
      ...(this.#options.cloud ? { cloud: this.#options.cloud.monitor.view() } : {}),
    };
  }

  async run(input: TaskInput, meta: RequestMeta, signal?: AbortSignal): Promise<DispatchResult> {
    const started = performance.now();
    const policy = this.#options.policy();
    const version = policyVersion(policy);
    const dataClass = resolveDataClass(policy, { ...(meta.dataClassHeader === undefined ? {} : { header: meta.dataClassHeader }), tenant: meta.tenant, task: input.task });
    const jointRule = policy.spec.jointInference?.[input.task];
    const jointInference = jointRule?.enabled === true;
    // Data that reached a tier it may not be on is refused, even if a misbehaving peer sent it.
    const here = egressRule(policy, dataClass, this.#options.self);
    if (!here.allowed) {
      this.#report({ task: input.task, dataClass, tier: 'none', reason: 'privacy', escalated: false, hardExample: false, rejected: 'EDGE_ERR_PRIVACY_DENIED', jointInference });
      throw new EdgeError('EDGE_ERR_PRIVACY_DENIED', `${dataClass} data may not be processed on the ${this.#options.self} tier: ${here.reason}`, {
        details: { dataClass, tier: this.#options.self, policyVersion: version },
      });
    }
    this.#options.local.check(input);
    const { request, hard, deadlineMs, timeoutMs } = planRequest(input, meta, dataClass, policy, this.#options.fallbackDeadlineMs);
    const context = this.#context(policy, version);
    const views = this.#views(input);
    if (input.params.model !== undefined && views.every((view) => view.variants.length === 0)) {
      throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `no tier serves a model named ${input.params.model} for ${input.task}`, { details: { model: input.params.model } });
    }
    let decision = decide(request, views, context);
    if (!decision.feasible && !hard && decision.why === 'infeasible') {
      // Best effort: the tier predicted fastest among those policy allows and that can be reached.
      const relaxed = decide({ ...request, deadlineMs: Number.POSITIVE_INFINITY }, views, context);
      if (relaxed.feasible) decision = { ...relaxed, reason: 'best-effort' };
    }
    if (!decision.feasible) {
      const code = decision.why === 'privacy' ? 'EDGE_ERR_PRIVACY_DENIED' : 'EDGE_ERR_PLACEMENT_INFEASIBLE';
      this.#report({ task: input.task, dataClass, tier: 'none', reason: decision.why, escalated: false, hardExample: false, rejected: code, jointInference });
      throw new EdgeError(code, decision.message, {
        details: { alternatives: decision.alternatives, policy_version: version, data_class: dataClass, deadline_ms: deadlineMs },
        ...(code === 'EDGE_ERR_PLACEMENT_INFEASIBLE' ? { retryAfterSeconds: 1 } : {}),
      });
    }
    // Counted as this node's load from the decision until its local run ends (released once).
    let counted = decision.tier === this.#options.self;
    if (counted) {
      this.#placedHere += 1;
      this.#arrivals.record();
      this.#work.record(decision.prediction.computeMs);
    }
    const release = () => {
      if (counted) {
        this.#placedHere -= 1;
        this.#completions.record();
      }
      counted = false;
    };
    try {
      await this.#audit(meta, dataClass, decision, input, version);
    } catch (error) {
      release();
      throw error;
    }

    const remaining = () => timeoutMs - (performance.now() - started);
    let outcome: Outcome;
    if (decision.tier === this.#options.self) {
      try {
        outcome = { ...(await this.#runHere(input, decision.model, remaining(), signal)), tier: decision.tier, model: decision.model, variant: decision.variant, reason: decision.reason, transforms: [] };
      } finally {
        release();
      }
    } else {
      outcome = await this.#runThere(input, meta, dataClass, decision, remaining, signal);
    }

    // Joint inference: only for answers computed here by a variant a farther tier can better.
    let escalated = false;
    let hardExample = false;
    let escalation: PlacementReport['escalation'];
    if (jointRule?.enabled && outcome.tier === this.#options.self && this.#options.cloud && meta.pin === undefined) {
      const confidence = outcome.confidence ?? 1;
      hardExample = isHardExample(jointRule, confidence);
      if (hardExample) {
        const near = VARIANTS[outcome.model]?.accuracy ?? 0;
        const farther = views.filter((view) => view.tier === 'cloud').map((view) => ({ ...view, variants: view.variants.filter((variant) => variant.model !== outcome.model) }));
        const plan = planEscalation({ ...request, deadlineMs: deadlineMs - (performance.now() - started) }, near, farther, context);
        if (!plan.escalate) {
          escalation = { tier: 'cloud', model: '', outcome: 'skipped', because: plan.because };
        } else {
          try {
            const far = await this.#forward(input, meta, dataClass, plan.model, egressFor(context, dataClass), Math.max(1, deadlineMs - (performance.now() - started)), signal);
            outcome = { result: far.result, tier: plan.tier, model: plan.model, variant: plan.variant, reason: outcome.reason, transforms: far.transforms };
            escalated = true;
            escalation = { tier: plan.tier, model: plan.model, outcome: 'answered' };
          } catch (error) {
            if (signal?.aborted) throw toEdgeError(error);
            escalation = { tier: plan.tier, model: plan.model, outcome: 'failed', because: toEdgeError(error).message };
          }
        }
      }
    }

    const actualMs = round(performance.now() - started);
    this.#report({ task: input.task, dataClass, tier: outcome.tier, reason: outcome.reason, predictedMs: decision.predicted_ms, actualMs, escalated, hardExample, jointInference });
    return {
      result: outcome.result,
      placement: {
        tier: outcome.tier,
        model: outcome.model,
        variant: outcome.variant,
        reason: outcome.reason,
        predicted_ms: decision.predicted_ms,
        actual_ms: actualMs,
        escalated,
        alternatives: decision.alternatives,
        policy_version: version,
        data_class: dataClass,
        transforms: outcome.transforms,
        ...(jointRule?.enabled ? { hard_example: hardExample } : {}),
        ...(escalation ? { escalation } : {}),
      },
    };
  }

  async #runHere(input: TaskInput, model: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<{ result: Record<string, unknown>; confidence: number }> {
    if (timeoutMs <= 0) throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', 'the request\'s deadline passed before it could start');
    const outcome = await this.#options.local.run(input, model, { timeoutMs, ...(signal ? { signal } : {}) });
    const timings = outcome.result.timings as { total_ms?: number; queue_ms?: number } | undefined;
    if (timings?.total_ms !== undefined) this.compute.observe(this.#options.self, model, timings.total_ms - (timings.queue_ms ?? 0));
    return outcome;
  }

  async #runThere(
    input: TaskInput,
    meta: RequestMeta,
    dataClass: DataClass,
    decision: Placement,
    remaining: () => number,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    try {
      const egress = egressFor(this.#context(this.#options.policy(), decision.policy_version), dataClass);
      const far = await this.#forward(input, meta, dataClass, decision.model, egress, Math.max(1, remaining()), signal);
      return { result: far.result, tier: decision.tier, model: decision.model, variant: decision.variant, reason: decision.reason, transforms: far.transforms };
    } catch (error) {
      const failure = toEdgeError(error);
      // Only a failure of the link or the far tier falls back; the far tier's verdict on the input stands.
      if (signal?.aborted || !isTierFailure(failure)) throw failure;
      const model = this.#options.serve[input.task].find((name) => this.#options.local.serves(input.task, name));
      if (!model || remaining() <= 0) throw failure;
      const here = await this.#runHere(input, model, remaining(), signal);
      return { result: here.result, tier: this.#options.self, model, variant: VARIANTS[model]?.variant ?? 'small', reason: `fallback: ${failure.message}`, transforms: [] };
    }
  }

  /** Transforms the payload as the egress rule demands, then sends it to the cloud pinned there. */
  async #forward(
    input: TaskInput,
    meta: RequestMeta,
    dataClass: DataClass,
    model: string,
    egress: (to: Tier) => EgressAnswer,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<{ result: Record<string, unknown>; transforms: Transform[] }> {
    const cloud = this.#options.cloud;
    if (!cloud) throw new EdgeError('EDGE_ERR_TIER_UNAVAILABLE', 'this node has no cloud tier configured (placement.cloudUrl)');
    // The gate: asked again right before any byte leaves, whatever the decision said.
    const rule = egress('cloud');
    if (!rule.allowed) throw new EdgeError('EDGE_ERR_PRIVACY_DENIED', `${dataClass} data may not leave for the cloud: ${rule.reason}`);
    const started = performance.now();
    const transformed = await this.#options.transforms.apply(rule.transforms, input.bytes, payloadKind(input.task), { timeoutMs, ...(signal ? { signal } : {}) });
    this.#transformCosts.observe(rule.transforms, transformed.ms);
    // Blurring faces runs a model on this node's workers: it is work here like any request.
    if (transformed.applied.includes('blur-faces')) this.#work.record(transformed.ms);
    const left = timeoutMs - (performance.now() - started);
    if (left <= 0) throw new EdgeError('EDGE_ERR_DEADLINE_EXCEEDED', 'the deadline passed while preparing the data for the cloud');
    const now = performance.now();
    this.#uplinkBusyUntil = Math.max(now, this.#uplinkBusyUntil) + transformed.bytes.length / cloud.monitor.link.estimate().bytesPerMs;
    try {
      const response = await cloud.client.post(routeFor(input, model), transformed.bytes, contentTypeFor(input), {
        timeoutMs: left,
        ...(signal ? { signal } : {}),
        headers: {
          'x-placement-tier': 'cloud',
          'x-forwarded-tier': this.#options.self,
          'x-data-class': dataClass,
          'x-tenant': meta.tenant,
          'x-deadline-ms': String(Math.max(1, Math.floor(left))),
        },
      });
      cloud.monitor.reportSuccess();
      const body = response.body as Record<string, unknown> & { placement?: { actual_ms?: number } };
      const remoteMs = body.placement?.actual_ms ?? 0;
      cloud.monitor.link.observeTransfer(transformed.bytes.length + JSON.stringify(body).length, response.elapsedMs - remoteMs);
      const { placement: _remote, ...result } = body;
      return { result, transforms: transformed.applied as Transform[] };
    } catch (error) {
      const failure = toEdgeError(error);
      cloud.monitor.reportCallFailure(failure);
      throw failure;
    }
  }

  #context(policy: PlacementPolicy, version: string): PlacementContext {
    return {
      self: this.#options.self,
      egress: (dataClass, to) => {
        const rule = egressRule(policy, dataClass, to);
        if (!rule.allowed) return rule;
        for (const transform of rule.transforms) {
          const why = this.#options.transformUnavailable?.(transform as Transform);
          if (why !== undefined) return { allowed: false, reason: `${dataClass} data needs ${transform} before the ${to} tier, and this node cannot do it: ${why}` };
        }
        return rule;
      },
      // Learned end to end (asking to done), so the cost includes waiting for a worker here.
      transformMs: this.#transformCosts.snapshot(),
      policyVersion: version,
      ...(this.#options.congestion ? { congestion: this.#options.congestion } : {}),
    };
  }

  #served(model: string): ServedVariant {
    const info = VARIANTS[model];
    const estimate = this.compute.estimate(this.#options.self, model);
    return {
      model,
      variant: info?.variant ?? 'small',
      accuracy: info?.accuracy ?? 0,
      compute_ms: round(estimate?.meanMs ?? COMPUTE_PRIOR_MS[model] ?? 50),
      compute_std_ms: round(estimate?.stdMs ?? 0),
    };
  }

  /** This node and, for a MEC node, the cloud as its heartbeat last described it. */
  #views(input: TaskInput): TierView[] {
    const wanted = input.params.model;
    const pick = (variants: VariantView[]) => (wanted === undefined ? variants : variants.filter((variant) => variant.model === wanted));
    const load = this.#load();
    let ownModels = [...this.#options.serve[input.task]];
    // A model asked for by name that this node holds may run here even if placement would not pick it.
    if (wanted !== undefined && !ownModels.includes(wanted) && this.#options.local.serves(input.task, wanted)) ownModels = [wanted];
    const views: TierView[] = [
      {
        tier: this.#options.self,
        reachable: true,
        path: [],
        load,
        // Its own gate would refuse a newcomer now: the cloud (if it can) takes it instead.
        ...(this.#options.refusing?.() ? { refusing: { because: 'its task gate refuses new work now (a standing queue past its delay target)' } } : {}),
        variants: pick(ownModels.filter((model) => this.#options.local.serves(input.task, model)).map((model) => toVariantView(this.#served(model)))),
      },
    ];
    const cloud = this.#options.cloud;
    if (cloud) {
      const status = cloud.monitor.status;
      views.push({
        tier: 'cloud',
        reachable: cloud.monitor.reachable,
        ...(cloud.monitor.reachable ? {} : { unreachableBecause: cloud.monitor.view().unreachable_because ?? 'no heartbeat' }),
        path: [cloud.monitor.link.estimate()],
        pathBacklogMs: Math.max(0, this.#uplinkBusyUntil - performance.now()),
        load: {
          inSystem: status?.load.in_system ?? 0,
          workers: status?.load.workers ?? 1,
          ageMs: cloud.monitor.statusAgeMs(),
          growthPerMs: (status?.load.growth_per_s ?? 0) / 1000,
          ...(status?.load.work_ms_per_s === undefined ? {} : { workPerMs: status.load.work_ms_per_s / 1000 }),
        },
        variants: pick((status?.serves[input.task] ?? []).map(toVariantView)),
        ...cloud.monitor.refusal(),
      });
    }
    return views;
  }

  /** One record per decision; the payload is hashed only when there is a log to write it to. */
  async #audit(meta: RequestMeta, dataClass: DataClass, decision: Placement, input: TaskInput, version: string): Promise<void> {
    const audit = this.#options.audit;
    if (!audit) return;
    const payloadSha256 = createHash('sha256').update(input.bytes).digest('hex');
    await audit.append({ tenant: meta.tenant, dataClass, tier: decision.tier, task: input.task, model: decision.model, reason: decision.reason, policyVersion: version, payloadSha256 });
  }


  #report(event: DecisionEvent): void {
    this.#options.onDecision?.(event);
  }
}



function egressFor(context: PlacementContext, dataClass: DataClass): (to: Tier) => EgressAnswer {
  return (to) => context.egress(dataClass, to);
}

