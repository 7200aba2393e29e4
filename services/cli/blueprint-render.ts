/**
 * `mec blueprint render FILE --target kubernetes --out DIR`: validates the blueprint as `validate`
 * does, then writes the manifests of services/blueprint/render-kubernetes.ts.
 */
import path from 'node:path';
import { PROJECT_ROOT } from '../core/config.ts';
import { EdgeError } from '../core/errors.ts';
import { checkBlueprintFile, formatProblem } from '../blueprint/load-blueprint.ts';
import { readRenderInputs } from '../blueprint/render-inputs.ts';
import { renderKubernetes } from '../blueprint/render-kubernetes.ts';
import { manifestFiles, writeManifests, type ManifestLayout } from '../blueprint/write-manifests.ts';

export interface RenderOptions {
  out: string;
  image?: string;
  layout?: ManifestLayout;
  repository?: string;
}

/** The source as the file headers name it: relative to the project when inside it, so that output does not depend on where it was made. */
export function sourceName(file: string): string {
  const relative = path.relative(PROJECT_ROOT, path.resolve(file));
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.basename(file) : relative.split(path.sep).join('/');
}

/** Returns the exit code: 0 rendered, 1 invalid blueprint, 2 unreadable file. */
export async function renderBlueprintFile(file: string, options: RenderOptions, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  try {
    const check = await checkBlueprintFile(file, options.repository === undefined ? {} : { repository: options.repository });
    if (check.blueprint === undefined) {
      for (const problem of check.problems) out(formatProblem(file, problem));
      err(`${file}: invalid (${check.problems.length} problem${check.problems.length === 1 ? '' : 's'}); nothing rendered`);
      return 1;
    }
    const input = await readRenderInputs(check.blueprint, {
      file,
      ...(options.repository === undefined ? {} : { repository: options.repository }),
      ...(options.image === undefined ? {} : { image: options.image }),
    });
    const objects = renderKubernetes(input);
    const written = await writeManifests(manifestFiles(objects, sourceName(file), options.layout ?? 'object'), options.out);
    out(`${file}: ${objects.length} objects in ${written.length} files under ${options.out}`);
    return 0;
  } catch (error) {
    if (error instanceof EdgeError && error.code === 'EDGE_ERR_BLUEPRINT_INVALID') {
      err(`${file}: ${error.message}`);
      return error.details?.unreadable === true ? 2 : 1;
    }
    throw error;
  }
}
