/**
 * A valid blueprint as Kubernetes objects for a cluster with KubeEdge edge nodes. Pure: the
 * blueprint, the policy text and the model cards in (render-inputs.ts reads them), plain objects
 * out, in a fixed order, so that rendering twice gives the same bytes (write-manifests.ts).
 * The cloud tier runs as autoscaled Deployments; each MEC node as a Deployment pinned to its edge
 * node, with its own Redis (jobs) and Mosquitto (cameras) beside it when the blueprint asks.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { EdgeError } from '../core/errors.ts';

export const DEFAULT_IMAGE = 'ghcr.io/mec-inference/mec:0.1.0';
const REDIS_IMAGE = 'redis:7.4.2-alpine';
const MOSQUITTO_IMAGE = 'eclipse-mosquitto:2.0.20';
const NODE_PORT = 8080;
const REDIS_PORT = 6379;
const MQTT_PORT = 1883;
/** Where the image holds the project (the Dockerfile's WORKDIR). */
const APP_DIR = '/app';
const POLICY_DIR = '/etc/mec/policies';
const POLICY_KEY = 'policy.yaml';
const CONFIG_DIR = '/etc/mec/config';
const CARDS_DIR = '/etc/mec/model-cards';
/** Pods whose names are DNS labels; a StatefulSet's pods add "-N" and a revision hash label. */
const MAX_NAME = 63;
const MAX_STATEFULSET_NAME = 52;

export interface RenderInput {
  blueprint: Readonly<Record<string, unknown>>;
  /** The policy YAML as the nodes will read it (the file's text, or the inline policy written out). */
  policyText: string;
  /** card.json text of each model the blueprint uses, by model name. */
  cards: Readonly<Record<string, string>>;
  image?: string;
}

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
};

type Rec = Record<string, any>;

interface NodeSpec {
  tier: 'cloud' | 'mec';
  name: string;
  replicas: number;
  resources: { cpu: string; memory: string };
  models: string[];
  location: Record<string, string>;
  mqtt: boolean;
}

/** Blueprint nodes without resources get this much (HPA needs a CPU request to scale on). */
const DEFAULT_RESOURCES = { cpu: '1', memory: '1Gi' };

export function renderKubernetes(input: RenderInput): Manifest[] {
  const blueprint = input.blueprint as Rec;
  const ns = String(blueprint.metadata.name);
  const spec = blueprint.spec as Rec;
  const image = input.image ?? DEFAULT_IMAGE;
  const nodes = nodesOf(spec);
  const cloud = nodes.filter((node) => node.tier === 'cloud');
  const mec = nodes.filter((node) => node.tier === 'mec');
  const jobs = spec.jobs as Rec | undefined;
  const jobTier: 'cloud' | 'mec' | undefined = jobs === undefined ? undefined : jobs.tier === 'cloud' ? 'cloud' : 'mec';
  const syncOn = spec.sync?.enabled === true;
  const cloudUrl = cloud.length > 0 ? `http://${cloud[0]!.name}.${ns}.svc.cluster.local:${NODE_PORT}` : undefined;
  for (const node of nodes) {
    checkName(node.name, MAX_NAME);
    if (node.tier === 'mec' && node.mqtt) checkName(`${node.name}-mosquitto`, MAX_NAME);
    if (node.tier === 'mec' && jobTier === 'mec') checkName(`${node.name}-redis`, MAX_STATEFULSET_NAME);
  }

  const cardsUsed = [...new Set(nodes.flatMap((node) => node.models))].sort();
  const configs = { cloud: tierConfig('cloud', spec, jobTier, syncOn), mec: tierConfig('mec', spec, jobTier, syncOn) };
  const configData: Record<string, string> = {};
  if (cloud.length > 0) configData['cloud.json'] = `${JSON.stringify(configs.cloud, null, 2)}\n`;
  if (mec.length > 0) configData['mec.json'] = `${JSON.stringify(configs.mec, null, 2)}\n`;
  const cardData: Record<string, string> = {};
  for (const name of cardsUsed) {
    const text = input.cards[name];
    if (text === undefined) throw new EdgeError('EDGE_ERR_BLUEPRINT_INVALID', `the card of model ${name} was not given to the renderer`);
    cardData[`${name}.card.json`] = text.endsWith('\n') ? text : `${text}\n`;
  }
  // Pods roll when what they read changes: ConfigMaps mounted as volumes would update in place, but
  // the node reads them once at start.
  const configHash = sha256([input.policyText, ...Object.values(configData), ...Object.values(cardData)].join('\u0000')).slice(0, 16);

  const objects: Manifest[] = [];
  objects.push({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns, labels: { ...partOf(ns), ...((blueprint.metadata.labels as Record<string, string> | undefined) ?? {}) } },
  });
  objects.push(configMap(ns, 'policy', { [POLICY_KEY]: input.policyText.endsWith('\n') ? input.policyText : `${input.policyText}\n` }, 'policy'));
  objects.push(configMap(ns, 'node-config', configData, 'config'));
  objects.push(configMap(ns, 'model-cards', cardData, 'model-cards'));
  objects.push(configMap(ns, 'prometheus', { 'prometheus.yml': prometheusConfig(ns) }, 'monitoring'));

  for (const node of cloud) {
    const args = ['serve', '--role', 'cloud', '--config', `${CONFIG_DIR}/cloud.json`, '--models', node.models.join(',')];
    if (jobTier === 'cloud') args.push('--redis', `redis://redis.${ns}.svc.cluster.local:${REDIS_PORT}`);
    if (syncOn) args.push('--sync', '--sync-policies', POLICY_DIR);
    // The cloud runs no camera bridge: cameras stream to their MEC node.
    args.push('--no-mqtt');
    objects.push(nodeDeployment(ns, node, image, args, configHash, []));
    objects.push(service(ns, node.name, labelsOf(ns, 'mec', node.name, 'node', 'cloud'), [{ name: 'http', port: NODE_PORT }]));
    objects.push({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: node.name, namespace: ns, labels: labelsOf(ns, 'mec', node.name, 'node', 'cloud') },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: node.name },
        minReplicas: node.replicas,
        maxReplicas: node.replicas * 3,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      },
    });
  }
  if (jobTier === 'cloud') {
    objects.push(...redis(ns, 'redis', 'cloud', jobs!, undefined));
    const worker = cloud[0]!;
    const labels = labelsOf(ns, 'mec', 'worker', 'worker', 'cloud');
    objects.push({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'worker', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: selectorOf(labels) },
        template: {
          metadata: { labels, annotations: { 'mec.io/config-hash': configHash } },
          spec: {
            ...podSecurity(),
            containers: [
              {
                name: 'worker',
                image,
                workingDir: APP_DIR,
                command: ['node', 'bin/mec.js', 'worker', '--node', `http://${worker.name}.${ns}.svc.cluster.local:${NODE_PORT}`, '--redis', `redis://redis.${ns}.svc.cluster.local:${REDIS_PORT}`],
                env: [{ name: 'MALLOC_ARENA_MAX', value: '2' }],
                resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '256Mi' } },
                securityContext: containerSecurity(),
              },
            ],
          },
        },
      },
    });
  }

  for (const node of mec) {
    const placement = edgePlacement(node);
    const args = ['serve', '--role', 'mec', '--config', `${CONFIG_DIR}/mec.json`, '--models', node.models.join(',')];
    if (cloudUrl !== undefined) args.push('--cloud-url', cloudUrl);
    if (jobTier === 'mec') args.push('--redis', `redis://${node.name}-redis.${ns}.svc.cluster.local:${REDIS_PORT}`);
    if (node.mqtt) args.push('--mqtt', `mqtt://${node.name}-mosquitto.${ns}.svc.cluster.local:${MQTT_PORT}`);
    else args.push('--no-mqtt');
    const extraVolumes: { volume: Rec; mount: Rec }[] = [];
    if (syncOn && cloudUrl !== undefined) {
      args.push('--sync', '--sync-cache', '/var/lib/mec/sync');
      // Kept while the pod lives, also through container restarts and cloud outages (KubeEdge keeps the pod).
      extraVolumes.push({ volume: { name: 'sync-cache', emptyDir: {} }, mount: { name: 'sync-cache', mountPath: '/var/lib/mec/sync' } });
    }
    objects.push(nodeDeployment(ns, node, image, args, configHash, extraVolumes, placement));
    objects.push(service(ns, node.name, labelsOf(ns, 'mec', node.name, 'node', 'mec'), [{ name: 'http', port: NODE_PORT }]));
    if (node.mqtt) objects.push(...mosquitto(ns, node, placement));
    if (jobTier === 'mec') objects.push(...redis(ns, `${node.name}-redis`, 'mec', jobs!, placement));
  }

  objects.push(...networkPolicies(ns, { mec: mec.length > 0, cloud: cloud.length > 0, edgeRedis: jobTier === 'mec', anyRedis: jobTier !== undefined, mqtt: mec.some((node) => node.mqtt) }));
  return objects;
}

function nodesOf(spec: Rec): NodeSpec[] {
  const nodes: NodeSpec[] = [];
  for (const tier of ['cloud', 'mec'] as const) {
    for (const node of (spec.tiers?.[tier]?.nodes ?? []) as Rec[]) {
      nodes.push({
        tier,
        name: String(node.name),
        replicas: tier === 'cloud' ? Number(node.replicas ?? 1) : 1,
        resources: { ...DEFAULT_RESOURCES, ...(node.resources ?? {}) },
        models: [...(node.models as string[])],
        location: { ...((node.location as Record<string, string> | undefined) ?? {}) },
        mqtt: node.mqtt?.enabled === true,
      });
    }
  }
  return nodes;
}

function checkName(name: string, max: number): void {
  if (name.length > max) {
    throw new EdgeError('EDGE_ERR_BLUEPRINT_INVALID', `the rendered object name "${name}" is longer than ${max} characters`, { details: { name, max } });
  }
}

/** `mec serve --config` for a tier: what every node of the tier shares; per-node values are flags. */
function tierConfig(tier: 'cloud' | 'mec', spec: Rec, jobTier: 'cloud' | 'mec' | undefined, syncOn: boolean): Rec {
  const serve: Record<string, string[]> = {};
  for (const task of ['detect', 'inspect', 'asr']) serve[task] = [...((spec.models?.[task]?.[tier] as string[] | undefined) ?? [])];
  const config: Rec = {
    server: { host: '0.0.0.0', port: NODE_PORT },
    placement: { tier, policyFile: `${POLICY_DIR}/${POLICY_KEY}`, serve },
  };
  // A detect request naming no model gets the tier's first detector, one the node loads.
  if (serve.detect!.length > 0) config.models = { defaultDetector: serve.detect![0] };
  if (jobTier === tier) {
    const maxJobs = spec.jobs?.redis?.maxJobs;
    config.offload = { enabled: true, ...(typeof maxJobs === 'number' ? { maxJobs } : {}) };
  }
  if (syncOn) config.sync = { enabled: true };
  return config;
}

function partOf(ns: string): Record<string, string> {
  return { 'app.kubernetes.io/part-of': ns, 'app.kubernetes.io/managed-by': 'mec-blueprint' };
}

function labelsOf(ns: string, name: string, instance: string, component: string, tier: 'cloud' | 'mec'): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': instance,
    'app.kubernetes.io/component': component,
    ...partOf(ns),
    'mec.io/tier': tier,
  };
}

function selectorOf(labels: Record<string, string>): Record<string, string> {
  return { 'app.kubernetes.io/name': labels['app.kubernetes.io/name']!, 'app.kubernetes.io/instance': labels['app.kubernetes.io/instance']! };
}

function configMap(ns: string, name: string, data: Record<string, string>, component: string): Manifest {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/component': component, ...partOf(ns) } }, data };
}

function service(ns: string, name: string, labels: Record<string, string>, ports: { name: string; port: number }[], headless = false): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels },
    spec: {
      ...(headless ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
      selector: selectorOf(labels),
      ports: ports.map((port) => ({ name: port.name, port: port.port, targetPort: port.name, protocol: 'TCP' })),
    },
  };
}

/** 1000 is the image's `node` user (deploy/Dockerfile), which owns /app and the model repository sync writes to. */
function podSecurity(fsGroup = 1000, user = 1000): Rec {
  return { securityContext: { runAsNonRoot: true, runAsUser: user, runAsGroup: user, fsGroup, seccompProfile: { type: 'RuntimeDefault' } } };
}

function containerSecurity(): Rec {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}

interface EdgePlacement {
  nodeSelector: Record<string, string>;
  tolerations: Rec[];
}

/**
 * Pins a pod to the KubeEdge edge node of a MEC node. The NoExecute tolerations have no
 * tolerationSeconds: when the cloud link drops, the node turns unreachable and KubeEdge's autonomy
 * keeps the pod running instead of evicting it after the default 300 s.
 */
function edgePlacement(node: NodeSpec): EdgePlacement {
  const nodeSelector: Record<string, string> = { 'node-role.kubernetes.io/edge': '' };
  for (const key of Object.keys(node.location).sort()) {
    const value = node.location[key]!;
    if (key === 'zone') nodeSelector['topology.kubernetes.io/zone'] = value;
    else if (key === 'region') nodeSelector['topology.kubernetes.io/region'] = value;
    else if (key.includes('/')) nodeSelector[key] = value;
    else nodeSelector[`mec.io/${key}`] = value;
  }
  return {
    nodeSelector,
    tolerations: [
      { key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
    ],
  };
}

/** The Secret holding the sync token of a blueprint's cloud and MEC nodes (deploy/README.md). */
export const SYNC_SECRET = 'mec-sync';

function nodeDeployment(ns: string, node: NodeSpec, image: string, args: string[], configHash: string, extra: { volume: Rec; mount: Rec }[], placement?: EdgePlacement): Manifest {
  const labels = labelsOf(ns, 'mec', node.name, 'node', node.tier);
  const probe = (route: string, period: number, failures: number) => ({ httpGet: { path: route, port: 'http' }, periodSeconds: period, timeoutSeconds: 2, failureThreshold: failures });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: node.name, namespace: ns, labels },
    spec: {
      replicas: node.replicas,
      // One pod per edge node: a surge pod would wait for the host port and resources of the old one.
      ...(node.tier === 'mec' ? { strategy: { type: 'Recreate' } } : {}),
      selector: { matchLabels: selectorOf(labels) },
      template: {
        metadata: {
          labels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(NODE_PORT), 'prometheus.io/path': '/metrics', 'mec.io/config-hash': configHash },
        },
        spec: {
          ...podSecurity(),
          hostNetwork: false,
          ...(placement === undefined ? {} : { nodeSelector: placement.nodeSelector, tolerations: placement.tolerations }),
          // The node drains in-flight requests on SIGTERM (close()) before it exits.
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'mec',
              image,
              workingDir: APP_DIR,
              command: ['node', 'bin/mec.js', ...args],
              ports: [
                {
                  name: 'http',
                  containerPort: NODE_PORT,
                  protocol: 'TCP',
                  // Devices on the site network reach the MEC node at its edge host: KubeEdge edge
                  // nodes run no kube-proxy, so a NodePort would not be there.
                  ...(node.tier === 'mec' ? { hostPort: NODE_PORT } : {}),
                },
              ],
              env: [
                { name: 'MALLOC_ARENA_MAX', value: '2' },
                // Admin routes (model load/unload) need it once the node binds beyond loopback.
                { name: 'MEC_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'mec-admin', key: 'token', optional: true } } },
                // Sync between pods is not loopback: the cloud and its MEC nodes share this secret. Not
                // optional: without it the pod does not start (CreateContainerConfigError names it),
                // rather than a cloud that refuses every edge.
                ...(args.includes('--sync') ? [{ name: 'MEC_SYNC_TOKEN', valueFrom: { secretKeyRef: { name: SYNC_SECRET, key: 'token' } } }] : []),
              ],
              resources: { requests: { cpu: node.resources.cpu, memory: node.resources.memory }, limits: { memory: node.resources.memory } },
              // Loading the models takes a while; liveness starts once the node has served.
              startupProbe: probe('/v2/health/live', 5, 60),
              readinessProbe: probe('/v2/health/ready', 5, 3),
              livenessProbe: probe('/v2/health/live', 10, 3),
              securityContext: containerSecurity(),
              volumeMounts: [
                // A subPath mount is a regular file; a whole ConfigMap folder holds symlinks, which
                // the cloud's sync scan (services/sync/scan.ts) skips. Pods roll on a change anyway (config-hash).
                { name: 'policy', mountPath: `${POLICY_DIR}/${POLICY_KEY}`, subPath: POLICY_KEY, readOnly: true },
                { name: 'node-config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'model-cards', mountPath: CARDS_DIR, readOnly: true },
                ...extra.map((item) => item.mount),
              ],
            },
          ],
          volumes: [
            { name: 'policy', configMap: { name: 'policy' } },
            { name: 'node-config', configMap: { name: 'node-config' } },
            { name: 'model-cards', configMap: { name: 'model-cards' } },
            ...extra.map((item) => item.volume),
          ],
        },
      },
    },
  };
}

/** Durable jobs need AOF and noeviction (BullMQ): an evicted key is a lost job. */
function redis(ns: string, name: string, tier: 'cloud' | 'mec', jobs: Rec, placement: EdgePlacement | undefined): Manifest[] {
  const labels = labelsOf(ns, 'redis', name, 'redis', tier);
  const aof = jobs.redis?.persistence !== 'none';
  const restricted = jobs.dataClass === 'restricted';
  const args = ['--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'everysec', '--save', '', '--maxmemory', '400mb', '--maxmemory-policy', 'noeviction', '--dir', '/data'];
  const statefulSet: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name,
      namespace: ns,
      labels,
      // Job payloads of restricted data live here: this Redis runs on the edge node, never in the cloud.
      ...(restricted ? { annotations: { 'mec.io/holds-data-class': 'restricted' } } : {}),
    },
    spec: {
      serviceName: name,
      replicas: 1,
      selector: { matchLabels: selectorOf(labels) },
      template: {
        metadata: { labels },
        spec: {
          ...podSecurity(999, 999),
          ...(placement === undefined ? {} : { nodeSelector: placement.nodeSelector, tolerations: placement.tolerations }),
          containers: [
            {
              name: 'redis',
              image: REDIS_IMAGE,
              command: ['redis-server', ...args],
              ports: [{ name: 'redis', containerPort: REDIS_PORT, protocol: 'TCP' }],
              resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { memory: '512Mi' } },
              readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 5, timeoutSeconds: 2 },
              livenessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 6 },
              securityContext: containerSecurity(),
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          ...(aof ? {} : { volumes: [{ name: 'data', emptyDir: {} }] }),
        },
      },
      ...(aof
        ? { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '2Gi' } } } }] }
        : {}),
    },
  };
  return [statefulSet, service(ns, name, labels, [{ name: 'redis', port: REDIS_PORT }], true)];
}

export function mosquittoConf(): string {
  return [
    '# Mosquitto beside a MEC node (rendered by mec blueprint render; the trial copy is deploy/mosquitto/mosquitto.conf).',
    `listener ${MQTT_PORT}`,
    'set_tcp_nodelay true',
    '# QoS 1 messages of persistent sessions survive a broker restart.',
    'persistence true',
    'persistence_location /mosquitto/data/',
    'autosave_interval 30',
    'max_packet_size 4259840',
    '# Cameras on the site network. In production: password_file and an acl_file per camera topic.',
    'allow_anonymous true',
    '',
  ].join('\n');
}

function mosquitto(ns: string, node: NodeSpec, placement: EdgePlacement): Manifest[] {
  const name = `${node.name}-mosquitto`;
  const labels = labelsOf(ns, 'mosquitto', name, 'mosquitto', 'mec');
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 1,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorOf(labels) },
      template: {
        metadata: { labels, annotations: { 'mec.io/config-hash': sha256(mosquittoConf()).slice(0, 16) } },
        spec: {
          ...podSecurity(1883, 1883),
          nodeSelector: placement.nodeSelector,
          tolerations: placement.tolerations,
          containers: [
            {
              name: 'mosquitto',
              image: MOSQUITTO_IMAGE,
              command: ['mosquitto', '-c', '/mosquitto/config/mosquitto.conf'],
              // Cameras publish to the edge host's address, as they do to the node.
              ports: [{ name: 'mqtt', containerPort: MQTT_PORT, hostPort: MQTT_PORT, protocol: 'TCP' }],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              readinessProbe: { tcpSocket: { port: 'mqtt' }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: 'mqtt' }, periodSeconds: 10, failureThreshold: 6 },
              securityContext: containerSecurity(),
              volumeMounts: [
                { name: 'config', mountPath: '/mosquitto/config', readOnly: true },
                { name: 'data', mountPath: '/mosquitto/data' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name } },
            { name: 'data', persistentVolumeClaim: { claimName: `${name}-data` } },
          ],
        },
      },
    },
  };
  const claim: Manifest = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: `${name}-data`, namespace: ns, labels },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  return [configMap(ns, name, { 'mosquitto.conf': mosquittoConf() }, 'mosquitto'), claim, deployment, service(ns, name, labels, [{ name: 'mqtt', port: MQTT_PORT }])];
}

/** Scrapes every node pod of the namespace (each cloud replica too) at its /metrics; target labels node_tier, node, pod. */
function prometheusConfig(ns: string): string {
  const config = {
    global: { scrape_interval: '15s' },
    scrape_configs: [
      {
        job_name: 'mec-nodes',
        metrics_path: '/metrics',
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [ns] } }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' },
          { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], action: 'keep', regex: 'node' },
          { source_labels: ['__address__', '__meta_kubernetes_pod_annotation_prometheus_io_port'], action: 'replace', regex: '([^:]+)(?::\\d+)?;(\\d+)', replacement: '$1:$2', target_label: '__address__' },
          // node_tier, not tier: the placement metrics have a `tier` of their own (the tier that served),
          // which a `tier` target label would rename to exported_tier.
          { source_labels: ['__meta_kubernetes_pod_label_mec_io_tier'], target_label: 'node_tier' },
          { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_instance'], target_label: 'node' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
    ],
  };
  // Prometheus reads YAML 1.1, as kubectl does: quote what 1.1 would take for a boolean.
  return stringify(config, { lineWidth: 0, version: '1.1', aliasDuplicateObjects: false });
}

/**
 * The second line of defence for data that must stay at the edge. The first is the node's egress
 * module (services/scheduler/egress.ts, policy-driven, per request), which decides what may be sent to the cloud;
 * these policies make sure that nothing else leaves: edge pods reach only the cloud node's Service,
 * their Redis and Mosquitto, and DNS, never the internet directly. Restricted data is held only by
 * edge pods (the MEC node and its Redis), never by a cloud tier object.
 */
function networkPolicies(ns: string, has: { mec: boolean; cloud: boolean; edgeRedis: boolean; anyRedis: boolean; mqtt: boolean }): Manifest[] {
  const policies: Manifest[] = [];
  const dns = {
    to: [
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } },
      // EdgeMesh answers DNS on the edge node at this link-local address.
      { ipBlock: { cidr: '169.254.96.16/32' } },
    ],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  };
  if (has.mec) {
    const egress: Rec[] = [];
    if (has.cloud) egress.push({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'node', 'mec.io/tier': 'cloud' } } }], ports: [{ protocol: 'TCP', port: NODE_PORT }] });
    // Only the edge's own Redis: job payloads of the edge never go to a cloud Redis.
    if (has.edgeRedis) egress.push({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'redis', 'mec.io/tier': 'mec' } } }], ports: [{ protocol: 'TCP', port: REDIS_PORT }] });
    if (has.mqtt) egress.push({ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'mosquitto' } } }], ports: [{ protocol: 'TCP', port: MQTT_PORT }] });
    egress.push(dns);
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'edge-egress',
        namespace: ns,
        labels: partOf(ns),
        annotations: {
          'mec.io/description':
            'Second line of defence: the node egress rule (policy, per request) is the first. Edge pods reach only the cloud node, their Redis and Mosquitto, and DNS; nothing at the edge reaches the internet directly, and restricted data is held only by edge pods.',
        },
      },
      spec: { podSelector: { matchLabels: { 'mec.io/tier': 'mec' } }, policyTypes: ['Egress'], egress },
    });
  }
  if (has.anyRedis) {
    // Jobs are read and written by nodes and workers only.
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'redis-ingress', namespace: ns, labels: partOf(ns) },
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/component': 'redis' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'node' } } }, { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'worker' } } }],
            ports: [{ protocol: 'TCP', port: REDIS_PORT }],
          },
        ],
      },
    });
  }
  return policies;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
