/**
 * A model name that is not in the repository at all is an operator's typo: whoever asked for it
 * (a node's --models, a device's model list) refuses to start. A model that is there but fails to
 * load is another matter: it shows in index() with its reason.
 */
import type { ModelRepository } from '../core/contracts.ts';
import { EdgeError } from '../core/errors.ts';

export function assertModelsInRepository(repository: ModelRepository, names: readonly string[], folder: string): void {
  const onDisk = new Set(repository.index().map((entry) => entry.name));
  const missing = names.filter((name) => !onDisk.has(name));
  if (missing.length > 0) {
    throw new EdgeError('EDGE_ERR_MODEL_NOT_FOUND', `models not in the repository ${folder}: ${missing.join(', ')}`, {
      details: { missing, available: [...onDisk] },
    });
  }
}
