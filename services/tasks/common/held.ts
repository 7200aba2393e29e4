/**
 * Runs a task's work while holding the model versions it looked up (ModelRepository.hold): a reload
 * that swaps one of them meanwhile keeps the old version until the work ends, so a request that
 * waited for admission, or runs a model several times, never names a version that is gone.
 */
import type { ModelRepository } from '../../core/contracts.ts';

export async function whileHolding<T>(
  repository: Pick<ModelRepository, 'hold'>,
  versions: ReadonlyArray<{ name: string; version: string }>,
  work: () => Promise<T>,
): Promise<T> {
  const releases = versions.map(({ name, version }) => repository.hold(name, version));
  try {
    return await work();
  } finally {
    for (const release of releases) release();
  }
}
