/**
 * What `mec blueprint up` runs for a valid blueprint on one machine (services/topology): the policy,
 * the `mec serve` flags of each tier, the emulated links and whether there is a cloud tier. Pure:
 * given the blueprint and where the local services are, returns the plan; nothing is started here.
 * One machine runs ONE MEC node: with several, the first runs and the plan says which were left out.
 */
import path from 'node:path';
import { DEFAULT_LINKS, type LinkSettings } from '../links/link-settings.ts';

type Rec = Record<string, any>;

export interface LocalPlanOptions {
  /** The blueprint file: a relative policy path starts from its folder. */
  file: string;
  redisUrl?: string;
  /** BullMQ key prefix of the jobs (`--jobs-prefix`); unset: the node's default. */
  jobsPrefix?: string;
  /**
   * false: the MEC node runs without its MQTT bridge even where the blueprint enables it (`--no-mqtt`,
   * or no broker answers); its MQTT cameras are then simulated over WebSocket.
   */
  mqttUrl?: string | false;
  /** Why mqttUrl is false, for the note (default: --no-mqtt was given). */
  mqttOffBecause?: string;
  /** Redis did not answer: the MEC node starts without durable jobs (a note says so). */
  redisUnavailable?: boolean;
  /** The MEC node's sync cache (`--sync-cache`); unset: the node's default. */
  syncCacheDir?: string;
}

export interface LocalPlan {
  name: string;
  /** An absolute policy file, or the inline policy (its YAML text goes to a file before start). */
  policy: { file: string } | { inline: Readonly<Record<string, unknown>> };
  /** Whether the blueprint has a cloud tier (else no cloud process, no mec-cloud link). */
  cloud: boolean;
  /** The MEC node that runs, and those that do not (one machine, one MEC node). */
  mecNode: string;
  skippedMecNodes: string[];
  cloudNode?: string;
  /** Full `mec serve` flags of each tier beyond role, port, host, policy and logging. */
  mecArgs: string[];
  cloudArgs: string[];
  links: { 'device-mec': LinkSettings; 'mec-cloud'?: LinkSettings };
  /** Lines worth telling the operator (what the local run leaves out). */
  notes: string[];
  /** The running MEC node's detector (what a simulated phone asks for); unset: it serves no detect. */
  mecDetector?: string;
  /** The cameras declared on the running MEC node (what `--simulate` streams). */
  cameras: PlannedCamera[];
  /** Whether the MEC node runs durable jobs (so needs Redis). */
  jobs: boolean;
}

export interface PlannedCamera {
  id: string;
  surface: string;
  fps: number;
  transport: 'mqtt' | 'websocket';
}

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
export const LOCAL_MQTT_URL = 'mqtt://127.0.0.1:1883';

export function localPlan(blueprint: Readonly<Record<string, unknown>>, options: LocalPlanOptions): LocalPlan {
  const spec = (blueprint as Rec).spec as Rec;
  const name = String((blueprint as Rec).metadata.name);
  const mecNodes = (spec.tiers?.mec?.nodes ?? []) as Rec[];
  const cloudNodes = (spec.tiers?.cloud?.nodes ?? []) as Rec[];
  const mecNode = mecNodes[0]!;
  const cloudNode = cloudNodes[0];
  const cloud = cloudNode !== undefined;
  const declaredJobTier: string | undefined = spec.jobs === undefined ? undefined : (spec.jobs.tier ?? 'mec');
  const jobTier = options.redisUnavailable === true ? undefined : declaredJobTier;
  const syncOn = spec.sync?.enabled === true;
  const redisUrl = options.redisUrl ?? LOCAL_REDIS_URL;
  const jobsArgs = ['--redis', redisUrl, ...(options.jobsPrefix === undefined ? [] : ['--jobs-prefix', options.jobsPrefix])];
  // A detect request naming no model gets the tier's first detector (as the Kubernetes render does).
  const detector = (tier: 'mec' | 'cloud'): string[] => {
    const first = (spec.models?.detect?.[tier] as string[] | undefined)?.[0];
    return first === undefined ? [] : ['--detector', first];
  };

  const mecArgs = [
    '--models', (mecNode.models as string[]).join(','),
    ...detector('mec'),
    ...(mecNode.mqtt?.enabled === true && options.mqttUrl !== false ? ['--mqtt', options.mqttUrl ?? LOCAL_MQTT_URL] : ['--no-mqtt']),
    ...(jobTier === 'mec' ? jobsArgs : []),
    // A MEC node pulls from the cloud: without a cloud tier there is nothing to sync from.
    ...(syncOn && cloud ? ['--sync', ...(options.syncCacheDir === undefined ? [] : ['--sync-cache', options.syncCacheDir])] : []),
  ];
  // The topology starts the cloud with --no-mqtt: cameras stream to their MEC node.
  const cloudArgs = cloud
    ? ['--models', (cloudNode.models as string[]).join(','), ...detector('cloud'), ...(jobTier === 'cloud' ? jobsArgs : []), ...(syncOn ? ['--sync'] : [])]
    : [];

  const links: LocalPlan['links'] = { 'device-mec': { ...DEFAULT_LINKS['device-mec'], ...(spec.links?.['device-mec'] ?? {}) } };
  if (cloud) links['mec-cloud'] = { ...DEFAULT_LINKS['mec-cloud'], ...(spec.links?.['mec-cloud'] ?? {}) };

  const skippedMecNodes = mecNodes.slice(1).map((node) => String(node.name));
  const notes: string[] = [];
  if (skippedMecNodes.length > 0) notes.push(`one machine runs one MEC node: ${mecNode.name} runs; ${skippedMecNodes.join(', ')} ${skippedMecNodes.length === 1 ? 'is' : 'are'} not started`);
  if (cloudNodes.length > 1 || Number(cloudNode?.replicas ?? 1) > 1) notes.push(`the cloud tier runs as one process (${cloudNode!.name}), not ${cloudNodes.length > 1 ? `${cloudNodes.length} nodes` : `${cloudNode!.replicas} replicas`}`);
  if (declaredJobTier !== undefined && jobTier === undefined) notes.push(`no Redis answers at ${redisUrl}: no durable jobs (POST /v1/jobs) in this run`);
  if (mecNode.mqtt?.enabled === true && options.mqttUrl === false) notes.push(`the MEC node runs without its MQTT bridge (${options.mqttOffBecause ?? '--no-mqtt'}): cameras stream over WebSocket only`);
  if (jobTier === 'cloud' && !cloud) notes.push('jobs are declared on the cloud tier, which this blueprint does not have: no jobs run');

  const policy: LocalPlan['policy'] =
    typeof spec.policy?.file === 'string' ? { file: path.resolve(path.dirname(path.resolve(options.file)), spec.policy.file) } : { inline: spec.policy.inline as Record<string, unknown> };
  const firstDetector = (spec.models?.detect?.mec as string[] | undefined)?.[0];
  const cameras: PlannedCamera[] = ((spec.streams?.cameras ?? []) as Rec[])
    .filter((camera) => camera.node === mecNode.name)
    // Without the bridge an MQTT camera still streams, over the node's WebSocket route.
    .map((camera) => ({ id: String(camera.id), surface: String(camera.surface), fps: Number(camera.fps), transport: camera.transport === 'websocket' || options.mqttUrl === false ? 'websocket' : 'mqtt' }));
  const skippedCameras = ((spec.streams?.cameras ?? []) as Rec[]).length - cameras.length;
  if (skippedCameras > 0) notes.push(`${skippedCameras} camera${skippedCameras === 1 ? '' : 's'} of MEC nodes not started here ${skippedCameras === 1 ? 'is' : 'are'} not simulated`);
  return {
    name,
    policy,
    cloud,
    mecNode: String(mecNode.name),
    skippedMecNodes,
    ...(cloud ? { cloudNode: String(cloudNode.name) } : {}),
    mecArgs,
    cloudArgs,
    links,
    notes,
    ...(firstDetector === undefined ? {} : { mecDetector: firstDetector }),
    cameras,
    jobs: jobTier === 'mec',
  };
}
