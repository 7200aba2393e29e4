/**
 * What the HTTP edge is given by the composition root. It owns none of it: the root closes the
 * repository, runtime and metrics after the server (in reverse order of creation).
 */
import type { InspectionTasks, ModelRepository, ModelRuntime, SpeechTasks, VisionTasks } from '../core/contracts.ts';
import type { Config } from '../core/config.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Dispatcher } from '../dispatch/dispatcher.ts';
import type { CameraHub } from '../streams/camera-hub.ts';
import type { MqttBridgeStats } from '../streams/mqtt-bridge.ts';
import type { JobService } from '../offload/job-service.ts';
import type { SyncDeps } from './routes/sync.ts';
import type { LiveFeed } from '../dashboard/live-feed.ts';

export interface HttpDeps {
  repository: ModelRepository;
  runtime: ModelRuntime;
  vision: VisionTasks;
  inspection: InspectionTasks;
  speech: SpeechTasks;
  metrics: Metrics;
  /** Places task requests (here or on another tier) and explains each decision. */
  dispatch: Dispatcher;
  /** Camera streams: the hub the WebSocket route feeds, and the MQTT bridge's state if it runs. */
  streams: { hub: CameraHub; mqtt?: () => MqttBridgeStats };
  /** Durable jobs (services/offload), when offload is on: POST /v1/jobs and GET /v1/jobs/{id}. */
  jobs?: JobService;
  /** Model and policy sync (services/sync): the cloud's publisher, or the edge's agent; unset: off. */
  sync?: SyncDeps;
  /** The live dashboard's feed (GET /, /v1/dashboard/events); unset: the page has no live data. */
  dashboard?: LiveFeed;
}

/** Handed to every route plugin. */
export interface RouteOptions {
  config: Readonly<Config>;
  deps: HttpDeps;
}
