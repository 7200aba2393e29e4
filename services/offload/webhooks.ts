/**
 * Webhook delivery: when a job completes or finally fails, {id, state, result|error} is POSTed to
 * the job's webhook URL (header x-job-id), at least once, through a BullMQ queue of its own with
 * attempts and exponential backoff. The delivery job is added before the job is marked finished,
 * with an id per job and outcome, so a crash in between re-adds the same delivery, not a second.
 */
import { Pool } from 'undici';
import type { Job } from 'bullmq';
import type { WebhookBody } from './job-types.ts';

export const WEBHOOK_ATTEMPTS = 10;
export const WEBHOOK_BACKOFF_MS = 1_000;
const WEBHOOK_TIMEOUT_MS = 5_000;

export interface WebhookDelivery {
  url: string;
  body: WebhookBody;
}

export function webhookJobId(id: string, state: WebhookBody['state']): string {
  return `${id}-${state}`;
}

/** Absolute http(s) URL without credentials, at most 2048 characters; undefined when it is not one. */
export function parseWebhookUrl(value: string): URL | undefined {
  if (value.length === 0 || value.length > 2048) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.hostname === '') return undefined;
  return url;
}

/** Posts deliveries; one small pool per origin (webhooks usually share one or a few receivers). */
export class WebhookSender {
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  async deliver(job: Job<WebhookDelivery>): Promise<void> {
    if (this.#closed) throw new Error('the webhook sender is closed');
    const url = new URL(job.data.url);
    let pool = this.#pools.get(url.origin);
    if (pool === undefined) {
      if (this.#pools.size >= 64) await this.#evictOne();
      pool = new Pool(url.origin, { connections: 4, keepAliveTimeout: 2_000 });
      this.#pools.set(url.origin, pool);
    }
    const response = await pool.request({
      method: 'POST',
      path: `${url.pathname}${url.search}`,
      headers: { 'content-type': 'application/json', 'x-job-id': job.data.body.id },
      body: JSON.stringify(job.data.body),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await response.body.dump();
    if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`the webhook answered HTTP ${response.statusCode}`);
  }

  async #evictOne(): Promise<void> {
    const [origin, pool] = this.#pools.entries().next().value as [string, Pool];
    this.#pools.delete(origin);
    await pool.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#pools.values()].map((pool) => pool.close().catch(() => undefined)));
    this.#pools.clear();
  }
}
