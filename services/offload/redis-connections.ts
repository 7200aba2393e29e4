/**
 * The two kinds of Redis connection the offload module uses:
 * - for requests (intake, status): fail fast. No offline queue (ioredis' is unbounded and would
 *   hold commands while Redis is away), a per-command timeout and one retry, so a caller learns
 *   within about a second that Redis is down or frozen;
 * - for workers: BullMQ's blocking commands need maxRetriesPerRequest null; they wait for Redis
 *   as long as it takes, which is what a worker should do.
 * Both reconnect on their own with a short, capped backoff.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** Reconnect quickly at first, never slower than once a second: jobs should resume within seconds of Redis returning. */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1000);

export function requestConnection(url: string, commandTimeoutMs: number): Redis {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy,
    lazyConnect: false,
  };
  const redis = new Redis(url, options);
  // Errors are answered per command (503); the event would otherwise crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** For BullMQ to create (and close) its own worker connections. */
export function workerConnectionOptions(url: string): { url: string; maxRetriesPerRequest: null; enableReadyCheck: boolean; retryStrategy: (times: number) => number; connectTimeout: number } {
  return { url, maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy, connectTimeout: 2000 };
}

export function workerConnection(url: string): Redis {
  const { url: _url, ...options } = workerConnectionOptions(url);
  const redis = new Redis(url, options);
  redis.on('error', () => undefined);
  return redis;
}
