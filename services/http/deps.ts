/**
 * What the HTTP edge is given by the composition root. It owns none of it: the root closes the
 * repository, runtime and metrics after the server (in reverse order of creation).
 */
import type { ModelRepository, ModelRuntime, VisionTasks } from '../core/contracts.ts';
import type { Config } from '../core/config.ts';
import type { Metrics } from '../metrics/metrics.ts';

export interface HttpDeps {
  repository: ModelRepository;
  runtime: ModelRuntime;
  vision: VisionTasks;
  metrics: Metrics;
}

/** Handed to every route plugin. */
export interface RouteOptions {
  config: Readonly<Config>;
  deps: HttpDeps;
}
