/**
 * The exit codes every `mec` command uses, so scripts and operators can tell "the work failed" from
 * "you called it wrong" from "something it needs is not there" without reading the output.
 */

/** Done; for servers: stopped on request (SIGINT/SIGTERM). */
export const EXIT_OK = 0;
/** The work ran and failed: an invalid blueprint, a failed check, a missed target, a tier that died. */
export const EXIT_FAILURE = 1;
/** Called wrong: an unknown command or option, a bad value, a file that cannot be read. */
export const EXIT_USAGE = 2;
/** Something it needs did not answer: a node, Redis, the MQTT broker, a tool that is not installed. */
export const EXIT_UNAVAILABLE = 3;
/** Stopped by a second Ctrl-C before it had finished stopping (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

export const EXIT_CODES_HELP = '\nExit codes: 0 done, 1 the work failed, 2 usage error or unreadable file, 3 a service it needs did not answer, 130 interrupted.';

/** Errors meaning "called wrong": a bad flag value or configuration, a file that cannot be used as given. */
const USAGE_CODES = new Set(['EDGE_ERR_CONFIG_INVALID', 'EDGE_ERR_POLICY_INVALID', 'EDGE_ERR_LINK_SETTINGS_INVALID', 'EDGE_ERR_LINK_NOT_FOUND', 'EDGE_ERR_MODEL_NAME_INVALID', 'EDGE_ERR_MODEL_NOT_FOUND', 'EDGE_ERR_SURFACE_NOT_FOUND', 'EDGE_ERR_DATA_CLASS_INVALID', 'EDGE_ERR_HEADER_INVALID']);
/** Errors meaning "something it needs did not answer". */
const UNAVAILABLE_CODES = new Set(['EDGE_ERR_TOPOLOGY_UNREACHABLE', 'EDGE_ERR_TIER_UNAVAILABLE', 'EDGE_ERR_JOBS_UNAVAILABLE', 'EDGE_ERR_SYNC_UNAVAILABLE', 'EDGE_ERR_SHUTTING_DOWN']);
/** Node's network errors: nothing listens, or the address does not resolve. */
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN']);

/** The exit code for an error that ended a command: its stable code decides, else "the work failed". */
export function exitCodeFor(error: unknown): number {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (USAGE_CODES.has(code)) return EXIT_USAGE;
    if (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_ERRNOS.has(code)) return EXIT_UNAVAILABLE;
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (cause !== undefined && cause !== error) {
    const fromCause = exitCodeFor(cause);
    if (fromCause === EXIT_UNAVAILABLE) return fromCause;
  }
  return EXIT_FAILURE;
}
