/**
 * `mec blueprint render --target kubernetes`: every object of the three blueprints against the
 * Kubernetes schemas of kubernetes-models (read back from the YAML, as kubectl would read it), the
 * KubeEdge placement of MEC pods, Redis durability, the edge NetworkPolicies, deploy/kubernetes/
 * in step with the blueprints, and the CLI's exit codes.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMec, type MecOutcome } from '../support/mec-cli.ts';
import { Redis } from 'ioredis';
import { parse, parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { loadConfig, PROJECT_ROOT } from '../../services/core/config.ts';
import { loadBlueprint } from '../../services/blueprint/load-blueprint.ts';
import { readRenderInputs } from '../../services/blueprint/render-inputs.ts';
import { renderKubernetes, type Manifest } from '../../services/blueprint/render-kubernetes.ts';
import { manifestFiles, writeManifests } from '../../services/blueprint/write-manifests.ts';

/** Every blueprint in blueprints/: a new one is rendered, validated and kept in step without a test edit. */
const BLUEPRINTS = readdirSync(path.join(PROJECT_ROOT, 'blueprints')).filter((entry) => entry.endsWith('.yaml')).map((entry) => entry.slice(0, -'.yaml'.length)).sort();
type Rec = Record<string, any>;

/** apiVersion/kind -> the kubernetes-models class whose validate() checks it. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

function validateObject(object: Rec): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${object.apiVersion} ${object.kind}: add it to MODELS or do not render it`);
  new Model(object).validate();
}

async function render(name: string): Promise<{ file: string; objects: Manifest[] }> {
  const file = `blueprints/${name}.yaml`;
  const check = await loadBlueprint(path.join(PROJECT_ROOT, file));
  return { file, objects: renderKubernetes(await readRenderInputs(check.blueprint, { file: path.join(PROJECT_ROOT, file) })) };
}

/** Objects as kubectl reads them: YAML 1.1, where a bare yes would be a boolean. */
function readBack(content: string): Rec[] {
  return parseAllDocuments(content, { version: '1.1' }).map((doc) => doc.toJS() as Rec);
}

const rendered = new Map<string, { file: string; objects: Manifest[] }>();
let dir: string;

beforeAll(async () => {
  for (const name of BLUEPRINTS) rendered.set(name, await render(name));
  dir = await mkdtemp(path.join(tmpdir(), 'blueprint-render-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function objectsOf(name: string): Manifest[] {
  return rendered.get(name)!.objects;
}

function find(name: string, kind: string, objectName: string): Rec {
  const object = objectsOf(name).find((candidate) => candidate.kind === kind && candidate.metadata.name === objectName);
  if (object === undefined) throw new Error(`${name}: no ${kind} ${objectName}`);
  return object as Rec;
}

function mecDeployments(name: string): Rec[] {
  return objectsOf(name).filter((object) => object.kind === 'Deployment' && object.metadata.labels?.['mec.io/tier'] === 'mec' && object.metadata.labels?.['app.kubernetes.io/component'] === 'node') as Rec[];
}

describe('render --target kubernetes: schemas', () => {
  it.each(BLUEPRINTS)('%s: every object, read back from its YAML file, validates against kubernetes-models', (name) => {
    const { file, objects } = rendered.get(name)!;
    const files = manifestFiles(objects, file);
    expect(files.length).toBe(objects.length);
    const kinds = new Set<string>();
    let count = 0;
    for (const manifest of files) {
      for (const object of readBack(manifest.content)) {
        expect(() => validateObject(object), `${name}/${manifest.name}`).not.toThrow();
        expect(object.metadata.namespace ?? object.metadata.name).toBe(name);
        kinds.add(object.kind);
        count += 1;
      }
    }
    expect(count).toBe(objects.length);
    for (const kind of ['Namespace', 'ConfigMap', 'Service', 'Deployment', 'NetworkPolicy']) expect(kinds.has(kind), kind).toBe(true);
  });

  it('the one-file-per-kind layout holds the same objects', () => {
    const { file, objects } = rendered.get('production-line-inspection')!;
    const files = manifestFiles(objects, file, 'kind');
    const key = (object: Rec) => `${object.kind}/${object.metadata.name}`;
    const byKey = (a: Rec, b: Rec) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
    const back = files.flatMap((manifest) => readBack(manifest.content)).sort(byKey);
    expect(files.length).toBe(new Set(objects.map((object) => object.kind)).size);
    expect(back).toEqual((JSON.parse(JSON.stringify(objects)) as Rec[]).sort(byKey));
  });

  it('BAD CALL - an object of an unknown kind fails the schema check', () => {
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(/no schema for v1 Pod/);
  });

  it('BAD CALL - a Deployment with a wrong field type fails kubernetes-models validation', () => {
    const deployment = structuredClone(find('mobile-image-recognition', 'Deployment', 'cloud'));
    deployment.spec.replicas = 'two';
    expect(() => validateObject(deployment)).toThrow();
  });

  it('redis-server args survive YAML 1.1: "yes" stays a string', () => {
    const { file, objects } = rendered.get('field-speech')!;
    const manifest = manifestFiles(objects, file).find((candidate) => candidate.name.includes('statefulset'))!;
    const [statefulSet] = readBack(manifest.content);
    const command = statefulSet!.spec.template.spec.containers[0].command as unknown[];
    expect(command.every((arg) => typeof arg === 'string')).toBe(true);
    expect(command).toContain('yes');
  });
});

describe('render --target kubernetes: placement and durability', () => {
  it('MEC Deployments sit on KubeEdge edge nodes of their site and zone, and survive cloud outages', () => {
    const expected: Record<string, { count: number; zone: string; site: string }> = {
      'mobile-image-recognition': { count: 2, zone: 'zone-a', site: 'city-centre' },
      'field-speech': { count: 1, zone: 'field', site: 'plant-north' },
      'production-line-inspection': { count: 1, zone: 'line-1', site: 'plant-south' },
      trial: { count: 1, zone: 'local', site: 'trial' },
    };
    for (const name of BLUEPRINTS) {
      const deployments = mecDeployments(name);
      expect(deployments.length, name).toBe(expected[name]!.count);
      const first = deployments[0]!.spec.template.spec;
      expect(first.nodeSelector).toEqual({ 'node-role.kubernetes.io/edge': '', 'topology.kubernetes.io/zone': expected[name]!.zone, 'mec.io/site': expected[name]!.site });
      for (const deployment of deployments) {
        const pod = deployment.spec.template.spec;
        expect(pod.hostNetwork).toBe(false);
        expect(pod.tolerations).toEqual([
          { key: 'node-role.kubernetes.io/edge', operator: 'Exists', effect: 'NoSchedule' },
          { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
          { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
        ]);
        expect(pod.tolerations.some((toleration: Rec) => 'tolerationSeconds' in toleration)).toBe(false);
        const container = pod.containers[0];
        expect(container.command.slice(0, 5)).toEqual(['node', 'bin/mec.js', 'serve', '--role', 'mec']);
        expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
        expect(container.livenessProbe.httpGet.path).toBe('/v2/health/live');
        expect(pod.securityContext.runAsNonRoot).toBe(true);
        expect(deployment.spec.template.metadata.annotations['prometheus.io/scrape']).toBe('true');
      }
    }
    const station = mecDeployments('mobile-image-recognition')[1]!.spec.template.spec.containers[0].command as string[];
    expect(station[station.indexOf('--cloud-url') + 1]).toBe('http://cloud.mobile-image-recognition.svc.cluster.local:8080');
  });

  it('the cloud tier: replicas, HPA on CPU 70% from replicas to 3x, no edge pinning', () => {
    const cloud = find('mobile-image-recognition', 'Deployment', 'cloud');
    expect(cloud.spec.replicas).toBe(2);
    expect(cloud.spec.template.spec.nodeSelector).toBeUndefined();
    expect(cloud.spec.template.spec.containers[0].resources.requests).toEqual({ cpu: '2', memory: '2Gi' });
    const hpa = find('mobile-image-recognition', 'HorizontalPodAutoscaler', 'cloud');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 6]);
    expect(hpa.spec.metrics[0].resource.target).toEqual({ type: 'Utilization', averageUtilization: 70 });
    expect(objectsOf('production-line-inspection').some((object) => object.kind === 'HorizontalPodAutoscaler')).toBe(false);
  });

  it('Redis for edge jobs: AOF everysec, noeviction, a volume claim, on the edge node of its MEC node', () => {
    for (const [name, node] of [
      ['field-speech', 'mec-plant-north'],
      ['production-line-inspection', 'mec-line-1'],
    ] as const) {
      const redis = find(name, 'StatefulSet', `${node}-redis`);
      const command = redis.spec.template.spec.containers[0].command as string[];
      const flag = (key: string) => command[command.indexOf(key) + 1];
      expect([flag('--appendonly'), flag('--appendfsync'), flag('--maxmemory-policy')]).toEqual(['yes', 'everysec', 'noeviction']);
      expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
      expect(redis.spec.template.spec.nodeSelector['node-role.kubernetes.io/edge']).toBe('');
      const nodeCommand = find(name, 'Deployment', node).spec.template.spec.containers[0].command as string[];
      expect(nodeCommand[nodeCommand.indexOf('--redis') + 1]).toBe(`redis://${node}-redis.${name}.svc.cluster.local:6379`);
    }
    expect(find('field-speech', 'StatefulSet', 'mec-plant-north-redis').metadata.annotations).toEqual({ 'mec.io/holds-data-class': 'restricted' });
    expect(objectsOf('mobile-image-recognition').some((object) => object.kind === 'StatefulSet')).toBe(false);
  });

  it('jobs on the cloud tier: one Redis and a `mec worker` Deployment in the cloud', async () => {
    const check = await loadBlueprint(path.join(PROJECT_ROOT, 'blueprints', 'mobile-image-recognition.yaml'));
    const blueprint = structuredClone(check.blueprint) as Rec;
    blueprint.spec.jobs = { tier: 'cloud', tasks: ['detect'], dataClass: 'public', redis: { persistence: 'aof' } };
    const input = await readRenderInputs(check.blueprint, { file: path.join(PROJECT_ROOT, 'blueprints', 'mobile-image-recognition.yaml') });
    const objects = renderKubernetes({ ...input, blueprint, image: 'registry.example/mec:9' }) as Rec[];
    for (const object of objects) validateObject(JSON.parse(JSON.stringify(object)));
    const worker = objects.find((object) => object.kind === 'Deployment' && object.metadata.name === 'worker')!;
    expect(worker.spec.template.spec.containers[0].command.slice(0, 5)).toEqual(['node', 'bin/mec.js', 'worker', '--node', 'http://cloud.mobile-image-recognition.svc.cluster.local:8080']);
    expect(worker.spec.template.spec.containers[0].image).toBe('registry.example/mec:9');
    const redis = objects.find((object) => object.kind === 'StatefulSet')!;
    expect(redis.metadata.name).toBe('redis');
    expect(redis.spec.template.spec.nodeSelector).toBeUndefined();
    // Edge pods may not reach the cloud's Redis: their jobs are not there.
    const egress = objects.find((object) => object.kind === 'NetworkPolicy' && object.metadata.name === 'edge-egress')!;
    expect(egress.spec.egress.some((rule: Rec) => rule.ports.some((port: Rec) => port.port === 6379))).toBe(false);
  });

  it('Mosquitto beside an MQTT node: persistence on, listener 1883, the node\'s --mqtt points at it', () => {
    const name = 'production-line-inspection';
    const conf = String(find(name, 'ConfigMap', 'mec-line-1-mosquitto').data['mosquitto.conf']);
    expect(conf).toMatch(/^listener 1883$/m);
    expect(conf).toMatch(/^persistence true$/m);
    const broker = find(name, 'Deployment', 'mec-line-1-mosquitto');
    expect(broker.spec.template.spec.nodeSelector['mec.io/site']).toBe('plant-south');
    expect(find(name, 'Service', 'mec-line-1-mosquitto').spec.ports[0].port).toBe(1883);
    const command = find(name, 'Deployment', 'mec-line-1').spec.template.spec.containers[0].command as string[];
    expect(command[command.indexOf('--mqtt') + 1]).toBe(`mqtt://mec-line-1-mosquitto.${name}.svc.cluster.local:1883`);
    for (const other of ['mobile-image-recognition', 'field-speech']) {
      for (const deployment of mecDeployments(other)) expect(deployment.spec.template.spec.containers[0].command).toContain('--no-mqtt');
    }
    // Sync between pods needs the shared token: every node that syncs reads it from the mec-sync Secret, required.
    for (const name of BLUEPRINTS) {
      for (const object of objectsOf(name).filter((candidate) => candidate.kind === 'Deployment') as Rec[]) {
        const container = object.spec.template.spec.containers[0];
        const token = (container.env as Rec[] | undefined)?.find((entry) => entry.name === 'MEC_SYNC_TOKEN');
        if ((container.command as string[]).includes('--sync')) expect(token, `${name} ${object.metadata.name}`).toEqual({ name: 'MEC_SYNC_TOKEN', valueFrom: { secretKeyRef: { name: 'mec-sync', key: 'token' } } });
        else expect(token, `${name} ${object.metadata.name}`).toBeUndefined();
      }
    }
  });

  it('NetworkPolicies: edge pods reach only the cloud node, their Redis, Mosquitto and DNS', () => {
    for (const name of BLUEPRINTS) {
      const policy = find(name, 'NetworkPolicy', 'edge-egress');
      expect(policy.spec.policyTypes).toEqual(['Egress']);
      const selector = policy.spec.podSelector.matchLabels as Record<string, string>;
      // Every edge pod (node, Redis, Mosquitto) is selected, so none has an unlisted way out.
      const edgePods = objectsOf(name).filter((object) => (object.kind === 'Deployment' || object.kind === 'StatefulSet') && (object as Rec).spec.template.spec.nodeSelector !== undefined) as Rec[];
      expect(edgePods.length).toBeGreaterThan(0);
      for (const pod of edgePods) for (const [key, value] of Object.entries(selector)) expect(pod.spec.template.metadata.labels[key]).toBe(value);
      const ports = (policy.spec.egress as Rec[]).flatMap((rule) => rule.ports.map((port: Rec) => port.port)).sort((a: number, b: number) => a - b);
      const allowed = new Set([53, 1883, 6379, 8080]);
      expect(ports.every((port: number) => allowed.has(port))).toBe(true);
      const blocks = (policy.spec.egress as Rec[]).flatMap((rule) => rule.to.filter((peer: Rec) => peer.ipBlock !== undefined).map((peer: Rec) => peer.ipBlock.cidr));
      expect(blocks).toEqual(['169.254.96.16/32']);
    }
    expect(find('production-line-inspection', 'NetworkPolicy', 'edge-egress').spec.egress.length).toBe(3); // redis, mosquitto, dns: no cloud
    expect(find('mobile-image-recognition', 'NetworkPolicy', 'edge-egress').spec.egress.length).toBe(2); // cloud, dns
  });

  it('ConfigMaps: the policy, the node config per tier (accepted by loadConfig), model cards, Prometheus', async () => {
    const name = 'field-speech';
    const policy = find(name, 'ConfigMap', 'policy').data['policy.yaml'] as string;
    expect(policy).toBe(await readFile(path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml'), 'utf8'));
    const configs = find(name, 'ConfigMap', 'node-config').data as Record<string, string>;
    expect(Object.keys(configs).sort()).toEqual(['cloud.json', 'mec.json']);
    const mec = loadConfig(JSON.parse(configs['mec.json']!));
    expect([mec.placement.tier, mec.server.host, mec.server.port, mec.offload.enabled, mec.offload.maxJobs]).toEqual(['mec', '0.0.0.0', 8080, true, 5000]);
    expect(mec.placement.serve?.asr).toEqual(['asr']);
    const cloud = loadConfig(JSON.parse(configs['cloud.json']!));
    expect([cloud.placement.tier, cloud.offload.enabled]).toEqual(['cloud', false]);
    const cards = find(name, 'ConfigMap', 'model-cards').data as Record<string, string>;
    expect(Object.keys(cards)).toEqual(['asr.card.json', 'melspec.card.json', 'silero_vad.card.json', 'speech_embedding.card.json']);
    expect(JSON.parse(cards['asr.card.json']!).name ?? 'asr').toBe('asr');
    const prometheus = parse(find(name, 'ConfigMap', 'prometheus').data['prometheus.yml'], { version: '1.1' }) as Rec;
    expect(prometheus.scrape_configs[0].kubernetes_sd_configs[0].namespaces.names).toEqual([name]);
    expect(prometheus.scrape_configs[0].metrics_path).toBe('/metrics');
  });
});

describe('deploy/kubernetes is in step with the blueprints', () => {
  it.each(BLUEPRINTS)('%s: rendering again gives byte-identical files', async (name) => {
    const { file, objects } = rendered.get(name)!;
    const expected = manifestFiles(objects, file);
    const folder = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', name);
    const present = (await readdir(folder).catch(() => [] as string[])).filter((entry) => entry.endsWith('.yaml')).sort();
    const hint = `deploy/kubernetes/${name} is out of step with blueprints/${name}.yaml: run \`npm run deploy:render\``;
    expect(present, hint).toEqual(expected.map((manifest) => manifest.name));
    for (const manifest of expected) expect(await readFile(path.join(folder, manifest.name), 'utf8'), `${hint} (${manifest.name})`).toBe(manifest.content);
  });

  it('writeManifests replaces its own stale files and leaves others alone', async () => {
    const out = path.join(dir, 'stale');
    const { file, objects } = rendered.get('mobile-image-recognition')!;
    await writeManifests(manifestFiles(objects, file), out);
    await writeFile(path.join(out, '99-old.yaml'), `# generated by mec blueprint render from ${file}; do not edit\nkind: Gone\n`);
    await writeFile(path.join(out, 'kustomization.yaml'), 'resources: []\n');
    await writeManifests(manifestFiles(objects, file), out);
    const names = await readdir(out);
    expect(names).not.toContain('99-old.yaml');
    expect(names).toContain('kustomization.yaml');
    expect(names.length).toBe(objects.length + 1);
  });
});

/** From source: the test must not depend on a build of everyone's files. */
function mec(...args: string[]): Promise<MecOutcome> {
  return runMec(args, { env: { MEC_FROM_SOURCE: '1' } });
}

describe('mec blueprint render', () => {
  it('renders a blueprint into a folder, exit 0, the same bytes as deploy/kubernetes', async () => {
    const out = path.join(dir, 'cli');
    const outcome = await mec('blueprint', 'render', 'blueprints/production-line-inspection.yaml', '--target', 'kubernetes', '--out', out);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(outcome.stdout).toContain('15 objects in 15 files');
    const names = (await readdir(out)).sort();
    const reference = path.join(PROJECT_ROOT, 'deploy', 'kubernetes', 'production-line-inspection');
    expect(names).toEqual((await readdir(reference)).filter((entry) => entry.endsWith('.yaml')).sort());
    for (const name of names) expect(await readFile(path.join(out, name), 'utf8')).toBe(await readFile(path.join(reference, name), 'utf8'));
    expect(await readFile(path.join(out, names[0]!), 'utf8')).toMatch(/^# generated by mec blueprint render from blueprints\/production-line-inspection\.yaml; do not edit\n/);
  }, 60_000);

  it('BAD CALL - an invalid blueprint prints its problems and exits 1, writing nothing', async () => {
    const text = (await readFile(path.join(PROJECT_ROOT, 'blueprints', 'field-speech.yaml'), 'utf8')).replace('models: [asr, melspec, speech_embedding, silero_vad]\n    devices', 'models: [asr, nosuchmodel]\n    devices');
    expect(text).toContain('nosuchmodel');
    // In a folder of its own, with the policy it names beside it (policy paths are relative to the blueprint).
    const folder = path.join(dir, 'bad-blueprint');
    await mkdir(path.join(folder, 'policies'), { recursive: true });
    await copyFile(path.join(PROJECT_ROOT, 'blueprints', 'policies', 'default.yaml'), path.join(folder, 'policies', 'default.yaml'));
    const file = path.join(folder, 'field-speech.yaml');
    await writeFile(file, text);
    {
      const out = path.join(dir, 'invalid');
      const outcome = await mec('blueprint', 'render', file, '--target', 'kubernetes', '--out', out);
      expect(outcome.code).toBe(1);
      expect(outcome.stdout).toMatch(/nosuchmodel/);
      expect(outcome.stderr).toMatch(/invalid \(\d+ problems?\); nothing rendered/);
      expect(await readdir(out).catch(() => 'absent')).toBe('absent');
    }
  }, 60_000);

  it('BAD CALL - an unknown target is a usage error, exit 2', async () => {
    const outcome = await mec('blueprint', 'render', 'blueprints/field-speech.yaml', '--target', 'nomad', '--out', path.join(dir, 'nomad'));
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/nomad/);
  }, 60_000);
});

describe('the rendered node command runs', () => {
  it('production-line-inspection: the MEC Deployment\'s command and node-config start a real `mec serve` (Redis, Mosquitto) that answers ready', async () => {
    const name = 'production-line-inspection';
    const folder = path.join(dir, 'run');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'mec.json'), find(name, 'ConfigMap', 'node-config').data['mec.json']);
    await writeFile(path.join(folder, 'policy.yaml'), find(name, 'ConfigMap', 'policy').data['policy.yaml']);
    const prefix = `render-test-${process.pid}-${Date.now()}`;
    // The command as rendered, with cluster paths and Service names swapped for this machine's; the
    // flags appended last only move it to loopback, a free port and a BullMQ prefix of its own.
    const command = (find(name, 'Deployment', 'mec-line-1').spec.template.spec.containers[0].command as string[]).map((arg) =>
      arg.replace('/etc/mec/config', folder).replace(/^redis:\/\/[^:]+:/, 'redis://127.0.0.1:').replace(/^mqtt:\/\/[^:]+:/, 'mqtt://127.0.0.1:'),
    );
    expect(command.slice(0, 2)).toEqual(['node', 'bin/mec.js']);
    const child = spawn(process.execPath, [...command.slice(1), '--policy', path.join(folder, 'policy.yaml'), '--host', '127.0.0.1', '--port', '0', '--jobs-prefix', prefix, '--log-level', 'warn'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, MEC_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "serving on" line in 45 s: ${output}`)), 45_000);
        child.stdout.on('data', () => {
          const match = /serving on (http:\/\/[^ ]+) \(models: ([^;]+);/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
        void exited.then((code) => reject(new Error(`mec serve exited ${code}: ${output}`)));
      });
      expect(output).toContain('MEC node serving on');
      expect(output).toContain('models: defect, defect-metal, defect-textile;');
      expect(output).toContain('MQTT mqtt://127.0.0.1:1883');
      expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);
      expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await exited;
      const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  }, 60_000);
});
