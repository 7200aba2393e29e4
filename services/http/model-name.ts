/**
 * Model names and versions from URLs and query strings are checked here AFTER the router has
 * percent-decoded them (so `%2e%2e%2f` arrives as `../`), with the registry's own rule: one rule
 * for the whole node, and a path-like name is a 400 before any route looks it up.
 */
import { EdgeError } from '../core/errors.ts';
import { isValidModelName, isValidModelVersion } from '../registry/model-name.ts';

function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
}

export function assertModelName(name: string): string {
  if (!isValidModelName(name)) {
    throw new EdgeError(
      'EDGE_ERR_MODEL_NAME_INVALID',
      `model name ${shown(name)} is not allowed: 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."`,
    );
  }
  return name;
}

/** A malformed version is a bad request (400), not an unknown version (404). */
export function assertModelVersion(version: string): string {
  if (!isValidModelVersion(version)) {
    throw new EdgeError(
      'EDGE_ERR_MODEL_NAME_INVALID',
      `model version ${shown(version)} is not allowed: 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."`,
    );
  }
  return version;
}
