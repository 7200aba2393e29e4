/** Outcomes as error codes, for exact assertions in every test folder. */
import { EdgeError } from '../../services/core/errors.ts';

/** The EdgeError code a promise rejects with; 'RESOLVED' when it fulfils; 'UNEXPECTED ...' for any other error. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'RESOLVED';
  } catch (error) {
    return codeOfError(error);
  }
}

/** The same for synchronous code: 'RETURNED' when it throws nothing. */
export function codeOfSync(run: () => unknown): string {
  try {
    run();
    return 'RETURNED';
  } catch (error) {
    return codeOfError(error);
  }
}

function codeOfError(error: unknown): string {
  return error instanceof EdgeError ? error.code : `UNEXPECTED ${String(error)}`;
}
