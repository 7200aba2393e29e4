/**
 * The sync protocol's shapes (cloud -> edge), shared by the publisher, the routes and the agent:
 * a manifest lists resources (models and policies) with versions that only grow, each with the
 * files an edge downloads and their sha256. Everything read off the wire is checked here once.
 */
import { EdgeError } from '../core/errors.ts';
import { isValidModelName } from '../registry/model-name.ts';

export const RESOURCE_KINDS = ['model', 'policy'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface ResourceFile {
  /** Relative to the resource's version folder, e.g. "model.onnx" or "card.json". */
  path: string;
  sha256: string;
  bytes: number;
}

export interface SyncResource {
  kind: ResourceKind;
  name: string;
  /** Positive integer; a newer publication of the same name always has a greater one. */
  version: number;
  /** Model: the ONNX file's sha256 (the card's); policy: the YAML text's. */
  sha256: string;
  files: ResourceFile[];
}

export interface Manifest {
  /** Changes whenever any resource changes: the long poll's `after`. */
  etag: string;
  resources: SyncResource[];
}

export interface ResourceRef {
  kind: ResourceKind;
  name: string;
  version: number;
}

export interface Rejection extends ResourceRef {
  code: string;
  message: string;
}

export interface AckBody {
  node: string;
  applied: ResourceRef[];
  rejected: Rejection[];
}

/** Limits that keep a hostile or broken peer from making us hold unbounded state. */
export const MAX_RESOURCES = 1024;
export const MAX_FILES_PER_RESOURCE = 16;
export const MAX_ACK_ENTRIES = 1024;
export const MAX_MESSAGE_CHARS = 1024;

const SHA256 = /^[0-9a-f]{64}$/;
const FILE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function keyOf(ref: { kind: ResourceKind; name: string }): string {
  return `${ref.kind}/${ref.name}`;
}

export function isResourceKind(value: unknown): value is ResourceKind {
  return typeof value === 'string' && (RESOURCE_KINDS as readonly string[]).includes(value);
}

/** Versions are positive integers (also as the decimal strings of model cards and URLs). */
export function parseVersion(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && /^[1-9][0-9]{0,14}$/.test(value)) return Number(value);
  return undefined;
}

export function assertVersion(value: unknown, what = 'version'): number {
  const version = parseVersion(value);
  if (version === undefined) {
    const shown = String(value).slice(0, 32);
    throw new EdgeError('EDGE_ERR_SYNC_VERSION_INVALID', `${what} ${JSON.stringify(shown)} is not a positive integer`, { details: { version: shown } });
  }
  return version;
}

/** A file path inside a version folder: plain segments only, so it can never leave the folder. */
export function isSafeFilePath(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) return false;
  return value.split('/').every((segment) => FILE_SEGMENT.test(segment) && !segment.includes('..'));
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID.test(value);
}

function malformed(what: string): EdgeError {
  return new EdgeError('EDGE_ERR_SYNC_UNAVAILABLE', `the cloud sent a malformed manifest: ${what}`, { retryAfterSeconds: 1 });
}

/** Checks a manifest received from the cloud; anything off makes the whole answer unusable. */
export function parseManifest(raw: unknown): Manifest {
  if (raw === null || typeof raw !== 'object') throw malformed('not an object');
  const { etag, resources } = raw as Record<string, unknown>;
  if (typeof etag !== 'string' || etag.length === 0 || etag.length > 128) throw malformed('etag');
  if (!Array.isArray(resources) || resources.length > MAX_RESOURCES) throw malformed('resources');
  const parsed = resources.map((entry, index): SyncResource => {
    const item = (entry ?? {}) as Record<string, unknown>;
    const version = parseVersion(item.version);
    if (!isResourceKind(item.kind) || !isValidModelName(item.name) || version === undefined || typeof item.sha256 !== 'string' || !SHA256.test(item.sha256)) {
      throw malformed(`resources[${index}]`);
    }
    if (!Array.isArray(item.files) || item.files.length === 0 || item.files.length > MAX_FILES_PER_RESOURCE) throw malformed(`resources[${index}].files`);
    const files = item.files.map((file, at): ResourceFile => {
      const f = (file ?? {}) as Record<string, unknown>;
      if (!isSafeFilePath(f.path) || typeof f.sha256 !== 'string' || !SHA256.test(f.sha256) || typeof f.bytes !== 'number' || !Number.isSafeInteger(f.bytes) || f.bytes < 0) {
        throw malformed(`resources[${index}].files[${at}]`);
      }
      return { path: f.path, sha256: f.sha256, bytes: f.bytes };
    });
    return { kind: item.kind, name: item.name, version, sha256: item.sha256, files };
  });
  return { etag, resources: parsed };
}

function refOf(raw: unknown, what: string): ResourceRef {
  const item = (raw ?? {}) as Record<string, unknown>;
  if (!isResourceKind(item.kind) || !isValidModelName(item.name)) {
    throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `${what}: kind must be model or policy and name a valid resource name`);
  }
  return { kind: item.kind, name: item.name, version: assertVersion(item.version, `${what}.version`) };
}

/** Checks POST /v1/sync/ack's body (an edge's word about what it applied and rejected). */
export function parseAck(raw: unknown): AckBody {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', 'the ack must be a JSON object');
  const body = raw as Record<string, unknown>;
  if (!isNodeId(body.node)) throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', 'node must be 1-128 of A-Z a-z 0-9 _ . : -');
  const applied = body.applied ?? [];
  const rejected = body.rejected ?? [];
  if (!Array.isArray(applied) || !Array.isArray(rejected) || applied.length + rejected.length > MAX_ACK_ENTRIES) {
    throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `applied and rejected must be arrays of at most ${MAX_ACK_ENTRIES} entries together`);
  }
  return {
    node: body.node,
    applied: applied.map((entry, index) => refOf(entry, `applied[${index}]`)),
    rejected: rejected.map((entry, index) => {
      const item = (entry ?? {}) as Record<string, unknown>;
      if (typeof item.code !== 'string' || typeof item.message !== 'string') throw new EdgeError('EDGE_ERR_REQUEST_MALFORMED', `rejected[${index}] needs a code and a message`);
      return { ...refOf(entry, `rejected[${index}]`), code: item.code.slice(0, 64), message: item.message.slice(0, MAX_MESSAGE_CHARS) };
    }),
  };
}
