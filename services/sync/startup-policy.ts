/**
 * The policy a node starts with. Without sync: the configured file. With sync: the configured file,
 * unless the sync cache holds the same policy (by name) at a newer version - after a restart without
 * the cloud, the edge keeps enforcing the last policy it synced. A broken cache file is ignored
 * (the configured policy is valid, the node starts); a broken configured file stops the node.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadPolicyFile } from '../scheduler/policy-file.ts';
import type { HeldPolicy } from './policy-holder.ts';

export function cachedPolicyFile(cacheDir: string, name: string): string {
  return path.join(cacheDir, 'policies', `${name}.yaml`);
}

async function loadHeld(file: string): Promise<HeldPolicy> {
  const policy = await loadPolicyFile(file);
  const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
  return { policy, sha256, source: file };
}

export async function loadStartupPolicy(policyFile: string, cacheDir: string | undefined, warn?: (message: string) => void): Promise<HeldPolicy> {
  const configured = await loadHeld(policyFile);
  if (cacheDir === undefined) return configured;
  const file = cachedPolicyFile(cacheDir, configured.policy.metadata.name);
  let cached: HeldPolicy;
  try {
    cached = await loadHeld(file);
  } catch (error) {
    if (!/ENOENT|no such file/.test((error as Error).message)) warn?.(`sync cache policy ${file} ignored: ${(error as Error).message}`);
    return configured;
  }
  const sameName = cached.policy.metadata.name === configured.policy.metadata.name;
  return sameName && cached.policy.metadata.version > configured.policy.metadata.version ? cached : configured;
}
