/**
 * The composition root of one MEC node: the only place that wires the layers together.
 * Start order: policy (from the sync cache when newer) -> runtime -> repository (loads the models)
 * -> tasks (vision, inspection, speech: one admission gate) -> camera hub -> metrics -> audit log ->
 * the cloud peer (heartbeats) -> dispatcher -> dashboard feed -> sync (publisher or agent) -> job
 * intake -> HTTP (with the WebSocket streams) -> MQTT camera bridge -> listen; then sync starts
 * polling and the embedded job worker starts (it calls this node's own routes).
 * Close order is the reverse: the job worker (its running jobs finish through the open server), the
 * MQTT bridge, sync (answers waiting long polls), HTTP (drains; the dashboard's feeds end in its
 * preClose), the job intake, the hub's cameras, the cloud peer, the audit log, then the repository
 * (which closes the runtime and its workers), then metrics.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './core/config.ts';
import { createRuntime } from './runtime/index.ts';
import { assertModelsInRepository, createRepository } from './registry/index.ts';
import { admissionGateFor } from './tasks/admission.ts';
import { createVisionTasks } from './tasks/vision/index.ts';
import { createInspectionTasks } from './tasks/inspection/index.ts';
import { createSpeechTasks } from './tasks/speech/index.ts';
import { CameraHub } from './streams/camera-hub.ts';
import { MqttCameraBridge } from './streams/mqtt-bridge.ts';
import { createMetrics } from './metrics/metrics.ts';
import { build } from './http/app.ts';
import { createDispatcher } from './dispatch/index.ts';
import { AuditLog } from './audit/audit-log.ts';
import { connectPeer, type Peer } from './tiers/peer.ts';
import { createSync, loadStartupPolicy, PolicyHolder, syncCacheDir, type RunningSync } from './sync/index.ts';
import { LiveFeed } from './dashboard/live-feed.ts';
import { observeSpeech } from './dashboard/observe-speech.ts';
import { createJobService, inProcessReachability, intakeFromConfig, workersFromConfig, type JobIntake } from './offload/index.ts';

export interface RunningNode {
  /** http://host:port the node listens on (the real port when 0 was asked). */
  url: string;
  /** Models that loaded and serve (a model that failed is listed by the repository index). */
  models: string[];
  app: FastifyInstance;
  /** The camera streams: the hub, and the MQTT bridge when streams.mqtt.enabled. */
  streams: { hub: CameraHub; mqtt: MqttCameraBridge | undefined };
  /** Graceful by default (drains queued work); idempotent. */
  close(options?: { force?: boolean }): Promise<void>;
}

export async function startNode(config: Readonly<Config>): Promise<RunningNode> {
  const runtime = createRuntime(config);
  let repository: Awaited<ReturnType<typeof createRepository>> | undefined;
  let metrics: ReturnType<typeof createMetrics> | undefined;
  let app: FastifyInstance | undefined;
  let hub: CameraHub | undefined;
  let bridge: MqttCameraBridge | undefined;
  let audit: AuditLog | undefined;
  let cloud: Peer | undefined;
  let sync: RunningSync | undefined;
  let jobIntake: JobIntake | undefined;
  let dashboard: LiveFeed | undefined;
  try {
    // The policy is checked before anything heavy starts: a bad file stops the node at once.
    // With sync on an edge, a newer version of the policy from the sync cache wins (autonomy after a restart).
    const policy = new PolicyHolder(await loadStartupPolicy(config.placement.policyFile, syncCacheDir(config)));
    repository = await createRepository({ config, runtime });
    assertModelsInRepository(repository, config.models.load, config.models.repository);
    const admission = admissionGateFor(config);
    const vision = createVisionTasks({ repository, config, admission });
    const inspection = createInspectionTasks({ repository, config, admission });
    // Observed for the dashboard's latest transcripts (the feed is created below; nothing is reported before).
    const speech = observeSpeech(createSpeechTasks({ repository, config, admission }), (result) => dashboard?.transcript({ text: result.text, model: `${result.model}@${result.version}`, tier: config.placement.tier }));
    hub = new CameraHub({
      inspection,
      maxCameras: config.streams.maxCameras,
      idleTimeoutMs: config.streams.idleTimeoutMs,
      frameTimeoutMs: config.server.defaultInferTimeoutMs,
      onInspected: (cameraId, frame, result) => dashboard?.cameraFrame(cameraId, frame, result),
    });
    metrics = createMetrics({ runtime });
    const placementMetrics = metrics;
    if (config.placement.auditLog !== undefined) audit = await AuditLog.open(config.placement.auditLog);
    const { cloudUrl } = config.placement;
    if (cloudUrl !== undefined && config.placement.tier === 'mec') {
      cloud = connectPeer('cloud', cloudUrl, config.placement, config.placement.cloudLinkPrior);
      cloud.monitor.start();
    }
    const dispatch = createDispatcher({
      config,
      policy: () => policy.current(),
      repository,
      admission,
      vision,
      inspection,
      speech,
      ...(cloud ? { cloud } : {}),
      ...(audit ? { audit } : {}),
      onDecision: (event) => {
        placementMetrics.placementDecided(event);
        dashboard?.placement(event);
      },
    });
    const cameraHub = hub;
    const modelIndex = repository;
    dashboard = new LiveFeed({ tierStatus: () => dispatch.status(), models: () => modelIndex.index(), cameras: () => cameraHub.stats() });
    sync = await createSync(config, {
      repository,
      policy,
      onEvent: (event) => placementMetrics.syncEvent(event),
      log: { info: (message) => app?.log.info(message), warn: (message) => app?.log.warn(message) },
    });
    // Durable jobs: the intake answers 503 while Redis is away; the node starts and serves without it.
    if (config.offload.enabled) jobIntake = intakeFromConfig(config, (event) => placementMetrics.jobEvent(event));
    const jobs = jobIntake ? createJobService(jobIntake, { policy: () => policy.current(), hasCloud: cloud !== undefined }) : undefined;
    const mqttStats = () => bridge?.stats() ?? { connected: false, unaddressable: 0, unpublished: 0 };
    app = await build(config, { repository, runtime, vision, inspection, speech, metrics, dispatch, ...(jobs ? { jobs } : {}), ...(sync ? { sync: sync.deps } : {}), dashboard, streams: config.streams.mqtt.enabled ? { hub, mqtt: mqttStats } : { hub } });
    if (config.streams.mqtt.enabled) {
      const { url, topicPrefix, username, password } = config.streams.mqtt;
      // Connects in the background: a broker that is down delays nothing, mqtt.js keeps retrying.
      bridge = new MqttCameraBridge({
        url,
        topicPrefix,
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password }),
        maxFrameBytes: config.streams.maxFrameBytes,
        hub,
        log: app.log,
      });
    }
    await app.listen({ host: config.server.host, port: config.server.port });
  } catch (error) {
    // A node that cannot start leaves no worker threads or sockets behind.
    await sync?.close().catch(() => undefined);
    await jobIntake?.close().catch(() => undefined);
    await bridge?.close().catch(() => undefined);
    dashboard?.close();
    await app?.close().catch(() => undefined);
    await hub?.close().catch(() => undefined);
    await cloud?.monitor.stop();
    await cloud?.client.close();
    await audit?.close().catch(() => undefined);
    metrics?.close();
    await (repository ?? runtime).close({ force: true }).catch(() => undefined);
    throw error;
  }

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  // Polls (edge) or rescans (cloud) in the background: the node serves whether or not the cloud answers.
  await sync?.start(port);
  const syncRun = sync;
  // The embedded job worker runs jobs through this node's own HTTP routes: it starts once the node listens.
  const cloudPeer = cloud;
  const intake = jobIntake;
  const jobMetrics = metrics;
  const jobWorkers = intake && config.offload.worker.embedded
    ? workersFromConfig(config, `http://${host}:${port}`, inProcessReachability(cloudPeer ? () => cloudPeer.monitor.reachable : undefined), (event) => jobMetrics.jobEvent(event))
    : undefined;
  const ready = repository.index().filter((entry) => entry.state === 'READY').map((entry) => entry.name);
  const server = app;
  const models = repository;
  const registry = metrics;
  const cameras = hub;
  const mqttBridge = bridge;
  const cloudTier = cloud;
  const auditLog = audit;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    models: [...new Set(ready)],
    app: server,
    streams: { hub: cameras, mqtt: mqttBridge },
    close(options = {}) {
      closed ??= (async () => {
        // Job workers first: graceful, their running jobs finish through the server still open.
        await jobWorkers?.close(options);
        await mqttBridge?.close();
        // Before the server: waiting long polls are answered now instead of holding close() up.
        await syncRun?.close();
        await server.close();
        await intake?.close();
        await cameras.close();
        await cloudTier?.monitor.stop();
        await cloudTier?.client.close();
        await auditLog?.close();
        await models.close(options);
        registry.close();
      })();
      return closed;
    },
  };
}
