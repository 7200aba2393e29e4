/**
 * The placement engine's vocabulary. The scheduler is pure: given these values it returns a
 * decision; it never does I/O, so the device SDK, the MEC node, the cloud node and the
 * discrete-event simulation in bench/ all run the very same code.
 */

/** Where a request can run, nearest the user first. */
export const TIERS = ['device', 'mec', 'cloud'] as const;
export type Tier = (typeof TIERS)[number];

/** How sensitive a request's data is; policy says which tiers each class may reach. */
export const DATA_CLASSES = ['public', 'internal', 'restricted'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

/** What may be done to data so that it may leave a tier (metadata stripping is always done). */
export const TRANSFORMS = ['strip-metadata', 'blur-faces'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** The task families that placement serves; each maps to a route and to model variants per tier. */
export const PLACEMENT_TASKS = ['detect', 'inspect', 'asr'] as const;
export type PlacementTask = (typeof PLACEMENT_TASKS)[number];

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

export function isDataClass(value: unknown): value is DataClass {
  return typeof value === 'string' && (DATA_CLASSES as readonly string[]).includes(value);
}
