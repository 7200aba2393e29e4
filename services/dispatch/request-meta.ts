/**
 * The placement-related facts a request brings in its headers, checked once at the edge:
 *   x-tenant          who asks (trusted from a gateway in front; API keys are not checked here yet)
 *   x-data-class      public | internal | restricted (default: the policy's, per tenant and task)
 *   x-deadline-ms     time the caller gives the whole request, ms (default: the policy's per task)
 *   x-placement-tier  device | mec | cloud: run there (if policy allows), not where placement would
 *   x-min-accuracy    0..1: the least accurate model variant acceptable
 */
import { EdgeError } from '../core/errors.ts';
import { isTier, type Tier } from '../scheduler/types.ts';

export interface RequestMeta {
  tenant: string;
  /** The raw x-data-class header; the policy resolves the class (and rejects an unknown one). */
  dataClassHeader?: string;
  deadlineMs?: number;
  pin?: Tier;
  minAccuracy?: number;
  /** The tier that forwarded this request here, if any (x-forwarded-tier). */
  forwardedBy?: Tier;
}

type Headers = Record<string, string | string[] | undefined>;

const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
export const MAX_DEADLINE_MS = 600_000;

function single(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw invalid(name, 'is given more than once');
  return value.trim();
}

function invalid(header: string, problem: string): EdgeError {
  return new EdgeError('EDGE_ERR_HEADER_INVALID', `${header} ${problem}`, { details: { header } });
}

export function readRequestMeta(headers: Headers): RequestMeta {
  const tenant = single(headers, 'x-tenant') ?? 'anonymous';
  if (!TENANT.test(tenant)) throw invalid('x-tenant', 'must be 1-64 letters, digits, dot, dash or underscore');
  const meta: RequestMeta = { tenant };
  const dataClass = single(headers, 'x-data-class');
  if (dataClass !== undefined) meta.dataClassHeader = dataClass;
  const deadline = single(headers, 'x-deadline-ms');
  if (deadline !== undefined) {
    const ms = Number(deadline);
    if (deadline === '' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DEADLINE_MS) throw invalid('x-deadline-ms', `must be a number of milliseconds above 0 and at most ${MAX_DEADLINE_MS}`);
    meta.deadlineMs = ms;
  }
  const pin = single(headers, 'x-placement-tier');
  if (pin !== undefined) {
    if (!isTier(pin)) throw invalid('x-placement-tier', 'must be one of device, mec, cloud');
    meta.pin = pin;
  }
  const accuracy = single(headers, 'x-min-accuracy');
  if (accuracy !== undefined) {
    const value = Number(accuracy);
    if (accuracy === '' || !Number.isFinite(value) || value < 0 || value > 1) throw invalid('x-min-accuracy', 'must be a number from 0 to 1');
    meta.minAccuracy = value;
  }
  const forwarded = single(headers, 'x-forwarded-tier');
  if (forwarded !== undefined) {
    if (!isTier(forwarded)) throw invalid('x-forwarded-tier', 'must be one of device, mec, cloud');
    meta.forwardedBy = forwarded;
  }
  return meta;
}
