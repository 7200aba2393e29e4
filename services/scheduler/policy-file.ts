/**
 * Reads a placement policy from a file: the one place in scheduler/ that does I/O, so that the
 * rest stays pure and runs the same on the device, on the nodes and in the simulation.
 */
import { readFile, stat } from 'node:fs/promises';
import { EdgeError } from '../core/errors.ts';
import { parsePolicy, type PlacementPolicy } from './policy.ts';

/** Real policies are a few KB; a bigger file is a mistake (wrong path), not a policy. */
const MAX_POLICY_BYTES = 1024 * 1024;

export async function loadPolicyFile(file: string): Promise<PlacementPolicy> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > MAX_POLICY_BYTES) throw new Error(`${info.size} bytes, more than the ${MAX_POLICY_BYTES} a policy may have`);
    text = await readFile(file, 'utf8');
  } catch (error) {
    const message = `cannot read the policy file: ${(error as Error).message}`;
    throw new EdgeError('EDGE_ERR_POLICY_INVALID', `invalid placement policy ${file}: ${message}`, {
      details: { source: file, errors: [{ path: '', message }] },
      cause: error,
    });
  }
  return parsePolicy(text, file);
}
