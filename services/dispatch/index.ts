/**
 * Builds a node's dispatcher from its parts: the tasks it runs, its admission gate (its load),
 * the policy, the privacy transforms, and - for a MEC node - the cloud's client and monitor.
 */
import type { Config } from '../core/config.ts';
import type { InspectionTasks, ModelRepository, SpeechTasks, VisionTasks } from '../core/contracts.ts';
import type { PlacementPolicy } from '../scheduler/policy.ts';
import type { AdmissionGate } from '../tasks/admission.ts';
import { createPrivacyTransforms } from '../tasks/privacy/index.ts';
import { FACE_DETECTOR_MODEL } from '../tasks/vision/models.ts';
import type { PeerMonitor } from '../tiers/peer-monitor.ts';
import type { TierClient } from '../tiers/tier-client.ts';
import { serveTable, VARIANTS } from './catalog.ts';
import { Dispatcher, type AuditSink, type DecisionEvent } from './dispatcher.ts';
import { createLocalTasks } from './local-tasks.ts';

export interface DispatcherDeps {
  config: Readonly<Config>;
  policy: () => PlacementPolicy;
  repository: ModelRepository;
  admission: AdmissionGate;
  vision: VisionTasks;
  inspection: InspectionTasks;
  speech: SpeechTasks;
  cloud?: { client: TierClient; monitor: PeerMonitor };
  audit?: AuditSink;
  onDecision?: (event: DecisionEvent) => void;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { config } = deps;
  const loaded = () => new Set(deps.repository.index().filter((entry) => entry.state === 'READY').map((entry) => entry.name));
  const preferred = serveTable(config);
  // A node without its preferred variant of a task serves the task with what it has loaded.
  const ready = loaded();
  const serve = Object.fromEntries(
    (Object.entries(preferred) as [keyof typeof preferred, readonly string[]][]).map(([task, models]) => {
      const present = models.filter((model) => ready.has(model));
      const others = Object.entries(VARIANTS).filter(([model, info]) => info.task === task && ready.has(model)).map(([model]) => model);
      return [task, present.length > 0 ? present : others];
    }),
  ) as unknown as typeof preferred;
  return new Dispatcher({
    self: config.placement.tier,
    policy: deps.policy,
    serve,
    local: createLocalTasks(deps, loaded),
    load: () => ({ inSystem: deps.admission.inside + deps.admission.waiting, workers: config.runtime.workers }),
    refusing: () => deps.admission.refusesNow(),
    places: () => deps.admission.concurrency,
    // blur-faces finds the faces with the face detector: without it loaded, no tier that needs it is a candidate.
    transformUnavailable: (transform) => (transform === 'blur-faces' && !loaded().has(FACE_DETECTOR_MODEL) ? `its face detector ${FACE_DETECTOR_MODEL} is not loaded` : undefined),
    transforms: createPrivacyTransforms({ vision: deps.vision, limits: { maxPixels: config.images.maxPixels, formats: config.images.formats } }),
    fallbackDeadlineMs: config.server.defaultInferTimeoutMs,
    congestion: config.placement.congestion,
    ...(deps.cloud ? { cloud: deps.cloud } : {}),
    ...(deps.audit ? { audit: deps.audit } : {}),
    ...(deps.onDecision ? { onDecision: deps.onDecision } : {}),
  });
}

export { Dispatcher, type DecisionEvent, type DispatchResult, type PlacementReport } from './dispatcher.ts';
