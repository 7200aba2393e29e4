/**
 * The bound on unfinished jobs (offload.maxJobs), held in Redis so that it holds for every intake
 * on one prefix: several replicas of a MEC node behind one Service, or `mec serve` and a
 * `mec jobs worker` process that also submits. Counting in each process and adding afterwards
 * would let N processes each see room for the last job and accept N.
 *
 * A submission reserves its place with one Lua script - atomic on the Redis server - that counts
 * the unfinished jobs of both run queues (the same lists and sorted sets BullMQ's own getCounts
 * reads: wait and active, delayed, prioritized, waiting-children) plus the places others have
 * reserved, and adds a reservation only if the sum is below the bound. The reservation is dropped
 * after the job is added (or the submission failed): in between the job may be counted twice, so
 * a full queue refuses a moment early, never late. A process that dies holding one loses it after
 * RESERVATION_TTL_MS (Redis's own clock, so the processes' clocks do not matter).
 *
 * The key layout is BullMQ's (`{prefix}:{queue}:{state}`, BullMQ 6); test/offload/job-room.test.ts
 * checks that this count equals Queue.getJobCounts, so an upgrade that moves a state fails there.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RUN_QUEUES } from './job-types.ts';

/** Longer than any submission holds one (a few Redis round trips within the intake's deadline). */
export const RESERVATION_TTL_MS = 30_000;

const LIST_STATES = ['wait', 'active'] as const;
const SORTED_SET_STATES = ['delayed', 'prioritized', 'waiting-children'] as const;

// KEYS[1] the reservations (member: reservation id, score: expiry ms); KEYS[2..] the lists, then the sorted sets.
// ARGV: ttl ms, bound, reservation id, number of lists.
const RESERVE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lists = tonumber(ARGV[4])
local unfinished = 0
for i = 2, #KEYS do
  if i - 1 <= lists then
    unfinished = unfinished + redis.call('LLEN', KEYS[i])
  else
    unfinished = unfinished + redis.call('ZCARD', KEYS[i])
  end
end
local reserved = redis.call('ZCARD', KEYS[1])
if unfinished + reserved >= tonumber(ARGV[2]) then
  return {0, unfinished, reserved}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
return {1, unfinished, reserved}
`;

export interface Reservation {
  granted: boolean;
  /** Unfinished jobs in Redis when the script ran. */
  unfinished: number;
  /** Places other submissions had reserved then (not counting this one). */
  reserved: number;
  /** Drops this reservation (after the job is added, or when the submission failed); idempotent. */
  release(): Promise<void>;
}

type ReserveCommand = (numberOfKeys: number, ...keysAndArgs: Array<string | number>) => Promise<[number, number, number]>;

export class JobRoom {
  readonly #redis: Redis;
  readonly #keys: string[];
  readonly #reservations: string;
  readonly #maxJobs: number;
  readonly #ttlMs: number;

  constructor(redis: Redis, prefix: string, maxJobs: number, reservationTtlMs = RESERVATION_TTL_MS) {
    this.#redis = redis;
    this.#maxJobs = maxJobs;
    this.#ttlMs = reservationTtlMs;
    this.#reservations = `${prefix}:intake:reservations`;
    const lists = RUN_QUEUES.flatMap((queue) => LIST_STATES.map((state) => `${prefix}:${queue}:${state}`));
    const sets = RUN_QUEUES.flatMap((queue) => SORTED_SET_STATES.map((state) => `${prefix}:${queue}:${state}`));
    this.#keys = [this.#reservations, ...lists, ...sets];
    // EVALSHA after the first call (ioredis loads the script on NOSCRIPT).
    if (!(redis as unknown as { mecReserveJob?: unknown }).mecReserveJob) redis.defineCommand('mecReserveJob', { lua: RESERVE });
  }

  /** Reserves a place for one job if unfinished + reserved < maxJobs; see Reservation. */
  async reserve(): Promise<Reservation> {
    const id = randomUUID();
    const reserve = (this.#redis as unknown as { mecReserveJob: ReserveCommand }).mecReserveJob.bind(this.#redis);
    const lists = RUN_QUEUES.length * LIST_STATES.length;
    const [granted, unfinished, reserved] = await reserve(this.#keys.length, ...this.#keys, this.#ttlMs, this.#maxJobs, id, lists);
    let released = !granted;
    return {
      granted: granted === 1,
      unfinished,
      reserved,
      release: async () => {
        if (released) return;
        released = true;
        await this.#redis.zrem(this.#reservations, id);
      },
    };
  }
}
