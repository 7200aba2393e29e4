/**
 * `mec blueprint validate FILE...`: checks blueprints (services/blueprint/load-blueprint.ts) and
 * prints one line per valid file, or every problem as FILE:LINE: /path: message (hint).
 * Exit codes: 0 all valid, 1 a blueprint is invalid, 2 a file that cannot be read.
 */
import { EdgeError } from '../core/errors.ts';
import { checkBlueprintFile, formatProblem, type BlueprintSummary } from '../blueprint/load-blueprint.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts';

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function describeSummary(summary: BlueprintSummary): string {
  return `${plural(summary.tiers, 'tier')}, ${plural(summary.nodes, 'node')}, ${plural(summary.devices, 'device kind')}, ${plural(summary.models, 'model')}, ${plural(summary.cameras, 'camera')}, policy ${summary.policy}`;
}

/** Validates each file in turn; returns the exit code (the worst over all files). */
export async function validateFiles(files: readonly string[], options: { repository?: string }, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  let code = EXIT_OK;
  for (const file of files) {
    try {
      const check = await checkBlueprintFile(file, options.repository === undefined ? {} : { repository: options.repository });
      if (check.summary !== undefined) {
        out(`${file}: valid (${describeSummary(check.summary)})`);
      } else {
        for (const problem of check.problems) out(formatProblem(file, problem));
        err(`${file}: invalid (${plural(check.problems.length, 'problem')})`);
        code = Math.max(code, EXIT_FAILURE);
      }
    } catch (error) {
      if (error instanceof EdgeError && error.details?.unreadable === true) {
        err(`${file}: ${error.message}`);
        code = EXIT_USAGE;
      } else {
        throw error;
      }
    }
  }
  return code;
}
