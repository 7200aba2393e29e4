/**
 * Model names and versions become folder names, so they are checked before anything touches the
 * disk: a name with `..`, `/`, `\`, NUL, whitespace or more than 128 characters never becomes a path.
 * The HTTP edge applies the same rule to names from URLs after the router has percent-decoded them
 * (so `%2e%2e%2f` arrives as `../`): one rule for the whole node.
 */
import { EdgeError } from '../core/errors.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isValidModelName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name) && !name.includes('..');
}

export function isValidModelVersion(version: unknown): version is string {
  return typeof version === 'string' && VERSION.test(version) && !version.includes('..');
}

/** Shows a hostile name safely in a message: truncated, control characters escaped. */
function printable(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
}

export function assertModelName(name: unknown): asserts name is string {
  if (!isValidModelName(name)) {
    throw new EdgeError('EDGE_ERR_MODEL_NAME_INVALID', `invalid model name ${printable(name)}: use 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."`);
  }
}

/** A malformed version is a bad request (EDGE_ERR_MODEL_NAME_INVALID, 400), not an unknown version (404). */
export function assertModelVersion(version: unknown): asserts version is string {
  if (!isValidModelVersion(version)) {
    throw new EdgeError('EDGE_ERR_MODEL_NAME_INVALID', `invalid model version ${printable(version)}: use 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."`);
  }
}
