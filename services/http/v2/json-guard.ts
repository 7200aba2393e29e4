/**
 * Guards around JSON.parse for request bodies: nesting depth is measured on the raw text BEFORE
 * parsing (a deeply nested body is refused in one linear scan, without building it), and keys that
 * could rewrite prototypes are refused after parsing.
 */
import { EdgeError } from '../../core/errors.ts';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Deepest nesting of arrays and objects in the text (brackets inside strings do not count). */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH) index += 1;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return false;
}

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function findForbiddenKey(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      // Tensor data: long arrays of numbers, nothing to look into.
      if (item !== null && typeof item === 'object') {
        const found = findForbiddenKey(item);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return key;
    const found = findForbiddenKey((value as Record<string, unknown>)[key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Parses request JSON: too deep -> EDGE_ERR_JSON_TOO_DEEP (before parsing), not JSON (NaN and
 * Infinity literals included) -> EDGE_ERR_JSON_INVALID, a `__proto__`/`constructor`/`prototype`
 * key anywhere -> EDGE_ERR_V2_REQUEST_INVALID.
 */
export function parseGuardedJson(text: string, maxDepth: number): unknown {
  if (jsonDepthExceeds(text, maxDepth)) {
    throw new EdgeError('EDGE_ERR_JSON_TOO_DEEP', `JSON nesting is deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EdgeError('EDGE_ERR_JSON_INVALID', `body is not valid JSON: ${(error as Error).message}`);
  }
  // The walk is only needed when the text mentions one of the keys at all.
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('prototype')) {
    const key = findForbiddenKey(value);
    if (key !== undefined) {
      throw new EdgeError('EDGE_ERR_V2_REQUEST_INVALID', `the key "${key}" is not allowed in a request`);
    }
  }
  return value;
}
