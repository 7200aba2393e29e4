/**
 * What the cloud publishes, read from its folders: every model folder of the repository (its
 * card.json names the version, the ONNX file and its sha256) and every policy file of the policies
 * folder (metadata.name and metadata.version). Cheap enough to run every 250 ms: only cards and
 * policy texts are read (and only when their size or mtime changed), model files are stat()ed,
 * never hashed - the edge verifies the bytes against the card's sha256.
 *
 * Policies are checked only for their name and version here: the edge validates them in full, so
 * an invalid policy is published, rejected by the edge and reported back, like a corrupt model.
 */
import { createHash } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { EdgeError, toEdgeError } from '../core/errors.ts';
import { parseModelCard } from '../registry/model-card.ts';
import { isValidModelName } from '../registry/model-name.ts';
import { isSafeFilePath, parseVersion, type ResourceKind, type SyncResource } from './resources.ts';

/** A resource with where each of its files lives on the cloud's disk. */
export interface ScannedResource {
  resource: SyncResource;
  /** Manifest path -> absolute path. */
  paths: Map<string, string>;
  /**
   * Manifest path -> the exact text that was hashed (cards and policies): served from memory, so a
   * card or policy rewritten in place after the scan never reaches an edge under the old sha256.
   */
  texts: Map<string, string>;
}

export interface ScanProblem {
  kind: ResourceKind;
  source: string;
  code: string;
  message: string;
}

const MAX_POLICY_BYTES = 1024 * 1024;
const MAX_CARD_BYTES = 1024 * 1024;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function isInside(folder: string, candidate: string): boolean {
  const relative = path.relative(folder, candidate);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

async function listFolder(folder: string): Promise<Dirent[]> {
  try {
    return await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Re-reads a small text file only when its size or mtime changed. */
class TextCache {
  readonly #entries = new Map<string, { size: number; mtimeMs: number; text: string }>();

  async read(file: string, info: Stats): Promise<string> {
    const cached = this.#entries.get(file);
    if (cached && cached.size === info.size && cached.mtimeMs === info.mtimeMs) return cached.text;
    const text = await readFile(file, 'utf8');
    this.#entries.set(file, { size: info.size, mtimeMs: info.mtimeMs, text });
    return text;
  }

  /** Forgets files not seen in the last scan (bounded by what is on disk). */
  keepOnly(seen: ReadonlySet<string>): void {
    for (const file of this.#entries.keys()) if (!seen.has(file)) this.#entries.delete(file);
  }
}

export class FolderScanner {
  readonly #cache = new TextCache();

  constructor(
    private readonly repository: string,
    private readonly policiesDir: string,
  ) {}

  async scan(): Promise<{ resources: ScannedResource[]; problems: ScanProblem[] }> {
    const resources: ScannedResource[] = [];
    const problems: ScanProblem[] = [];
    const seen = new Set<string>();
    for (const entry of await listFolder(this.repository)) {
      if (!entry.isDirectory() || !isValidModelName(entry.name)) continue;
      try {
        const scanned = await this.#model(entry.name, seen);
        if (scanned) resources.push(scanned);
      } catch (error) {
        const edge = toEdgeError(error);
        problems.push({ kind: 'model', source: entry.name, code: edge.code, message: edge.message });
      }
    }
    const policies = new Map<string, ScannedResource>();
    for (const entry of await listFolder(this.policiesDir)) {
      if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
      const file = path.join(this.policiesDir, entry.name);
      try {
        const scanned = await this.#policy(file, seen);
        const other = policies.get(scanned.resource.name);
        if (other && other.resource.version >= scanned.resource.version) {
          problems.push({ kind: 'policy', source: entry.name, code: 'EDGE_ERR_SYNC_VERSION_INVALID', message: `another file publishes policy ${scanned.resource.name} at version ${other.resource.version}` });
          continue;
        }
        policies.set(scanned.resource.name, scanned);
      } catch (error) {
        const edge = toEdgeError(error);
        problems.push({ kind: 'policy', source: entry.name, code: edge.code, message: edge.message });
      }
    }
    resources.push(...policies.values());
    this.#cache.keepOnly(seen);
    return { resources, problems };
  }

  async #model(name: string, seen: Set<string>): Promise<ScannedResource | undefined> {
    const folder = path.join(this.repository, name);
    const cardFile = path.join(folder, 'card.json');
    let info: Stats;
    try {
      info = await stat(cardFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // not a model folder (yet)
      throw error;
    }
    if (!info.isFile() || info.size > MAX_CARD_BYTES) throw problem('EDGE_ERR_MODEL_CARD_INVALID', `${name}/card.json is not a file of at most ${MAX_CARD_BYTES} bytes`);
    seen.add(cardFile);
    const text = await this.#cache.read(cardFile, info);
    const card = parseModelCard(name, text);
    const version = parseVersion(card.version);
    if (version === undefined) throw problem('EDGE_ERR_SYNC_VERSION_INVALID', `model ${name}: version ${JSON.stringify(card.version)} is not a positive integer, so it cannot be synced`);
    const absolute = path.resolve(folder, card.file);
    if (!isInside(folder, absolute)) throw problem('EDGE_ERR_MODEL_CARD_INVALID', `model ${name}: "file" leaves the model's folder`);
    // The edge stores files under <name>/<version>/: the card's own "<version>/" prefix is dropped.
    const relative = card.file.startsWith(`${card.version}/`) ? card.file.slice(card.version.length + 1) : card.file;
    if (!isSafeFilePath(relative) || relative === 'card.json') throw problem('EDGE_ERR_MODEL_CARD_INVALID', `model ${name}: "file" ${JSON.stringify(card.file)} cannot be synced (plain path segments only)`);
    const fileInfo = await stat(absolute);
    return {
      resource: {
        kind: 'model',
        name,
        version,
        sha256: card.sha256,
        files: [
          { path: 'card.json', sha256: sha256(text), bytes: Buffer.byteLength(text) },
          { path: relative, sha256: card.sha256, bytes: fileInfo.size },
        ],
      },
      paths: new Map([
        ['card.json', cardFile],
        [relative, absolute],
      ]),
      texts: new Map([['card.json', text]]),
    };
  }

  async #policy(file: string, seen: Set<string>): Promise<ScannedResource> {
    const info = await stat(file);
    if (info.size > MAX_POLICY_BYTES) throw problem('EDGE_ERR_POLICY_INVALID', `${path.basename(file)} has more than ${MAX_POLICY_BYTES} bytes`);
    seen.add(file);
    const text = await this.#cache.read(file, info);
    let metadata: Record<string, unknown> | undefined;
    try {
      const document = parseYaml(text, { maxAliasCount: 100 }) as { metadata?: Record<string, unknown> } | null;
      metadata = document?.metadata;
    } catch (error) {
      throw problem('EDGE_ERR_POLICY_INVALID', `${path.basename(file)} is not YAML: ${(error as Error).message}`);
    }
    const name = metadata?.name;
    const version = parseVersion(metadata?.version);
    if (!isValidModelName(name)) throw problem('EDGE_ERR_POLICY_INVALID', `${path.basename(file)}: metadata.name is missing or not a plain name`);
    if (version === undefined) throw problem('EDGE_ERR_SYNC_VERSION_INVALID', `${path.basename(file)}: metadata.version is not a positive integer`);
    const digest = sha256(text);
    const published = `${name}.yaml`;
    return {
      resource: { kind: 'policy', name, version, sha256: digest, files: [{ path: published, sha256: digest, bytes: Buffer.byteLength(text) }] },
      paths: new Map([[published, file]]),
      texts: new Map([[published, text]]),
    };
  }
}

function problem(code: 'EDGE_ERR_MODEL_CARD_INVALID' | 'EDGE_ERR_SYNC_VERSION_INVALID' | 'EDGE_ERR_POLICY_INVALID', message: string): EdgeError {
  return new EdgeError(code, message);
}
