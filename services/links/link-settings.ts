/**
 * What an emulated network link does to the bytes crossing it: delay, jitter, a bandwidth cap, and
 * a mode (up, down, blackhole, reset). Settings are validated once here; the proxy trusts them.
 */
import { EdgeError } from '../core/errors.ts';

export const LINK_MODES = ['up', 'down', 'blackhole', 'reset'] as const;
export type LinkMode = (typeof LINK_MODES)[number];

export interface LinkSettings {
  /** Round-trip time added: each direction is delayed latencyMs / 2. */
  readonly latencyMs: number;
  /** Uniform +- jitterMs per chunk and direction; bytes are never reordered. */
  readonly jitterMs: number;
  /** Cap per direction in Mbit/s; Infinity means no cap. */
  readonly bandwidthMbit: number;
  readonly mode: LinkMode;
}

export type LinkName = 'device-mec' | 'mec-cloud';

export const DEFAULT_LINKS: Readonly<Record<LinkName, LinkSettings>> = Object.freeze({
  'device-mec': Object.freeze({ latencyMs: 5, jitterMs: 0, bandwidthMbit: 100, mode: 'up' }),
  'mec-cloud': Object.freeze({ latencyMs: 40, jitterMs: 0, bandwidthMbit: 50, mode: 'up' }),
});

/** A link that changes nothing: the base for fields a partial leaves out when no base is given. */
export const TRANSPARENT_LINK: LinkSettings = Object.freeze({ latencyMs: 0, jitterMs: 0, bandwidthMbit: Infinity, mode: 'up' });

/** Ten minutes: longer delays are typos, and they would hold sockets and memory that long. */
const MAX_DELAY_MS = 600_000;

const FIELDS: ReadonlySet<string> = new Set(['latencyMs', 'jitterMs', 'bandwidthMbit', 'mode']);

function invalid(message: string, details: Record<string, unknown>): EdgeError {
  return new EdgeError('EDGE_ERR_LINK_SETTINGS_INVALID', message, { details });
}

function delay(field: 'latencyMs' | 'jitterMs', value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
    throw invalid(`${field} must be a number of milliseconds from 0 to ${MAX_DELAY_MS}, got ${JSON.stringify(value) ?? String(value)}`, { field, value: String(value) });
  }
  return value;
}

function bandwidth(value: unknown): number {
  // JSON has no Infinity (JSON.stringify(Infinity) is null), so null also means "no cap".
  if (value === null || value === Infinity) return Infinity;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`bandwidthMbit must be a number of Mbit/s above 0 (or null / Infinity for no cap), got ${JSON.stringify(value) ?? String(value)}`, { field: 'bandwidthMbit', value: String(value) });
  }
  return value;
}

function mode(value: unknown): LinkMode {
  if (typeof value !== 'string' || !(LINK_MODES as readonly string[]).includes(value)) {
    throw invalid(`mode must be one of ${LINK_MODES.join(', ')}, got ${JSON.stringify(value) ?? String(value)}`, { field: 'mode', value: String(value) });
  }
  return value as LinkMode;
}

/**
 * Full, frozen settings from a partial (an untrusted JSON body included): fields left out come from
 * `base`. Unknown fields are refused, so that a typo ("latency") never silently does nothing.
 */
export function validateLinkSettings(partial: unknown, base: LinkSettings = TRANSPARENT_LINK): LinkSettings {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) {
    throw invalid('link settings must be an object with some of latencyMs, jitterMs, bandwidthMbit, mode', { value: String(partial) });
  }
  const fields = partial as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) {
    throw invalid(`unknown link setting ${unknown.join(', ')}: use latencyMs, jitterMs, bandwidthMbit, mode`, { fields: unknown });
  }
  return Object.freeze({
    latencyMs: fields.latencyMs === undefined ? base.latencyMs : delay('latencyMs', fields.latencyMs),
    jitterMs: fields.jitterMs === undefined ? base.jitterMs : delay('jitterMs', fields.jitterMs),
    bandwidthMbit: fields.bandwidthMbit === undefined ? base.bandwidthMbit : bandwidth(fields.bandwidthMbit),
    mode: fields.mode === undefined ? base.mode : mode(fields.mode),
  });
}
