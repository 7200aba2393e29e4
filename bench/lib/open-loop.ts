/**
 * The two load shapes an overload measurement needs (bench/overload.ts, test/faults/overload.test.ts):
 *
 * - openLoop: a fixed arrival rate whatever the answers - request i is sent at start + i / rate - so
 *   a slow or refusing node is offered the same load (a closed loop would back off and hide it);
 * - servedRate: as many clients as the node has places, each sending its next request when answered,
 *   pausing 20 ms after a refusal: a refusal costs about a millisecond, and a client that retried at
 *   once would measure how fast the node refuses instead of how fast it serves.
 */

/** Sends `rate` requests a second for `seconds`; resolves with every answer, in sending order. */
export async function openLoop<T>(rate: number, seconds: number, send: () => Promise<T>, onTick?: () => void): Promise<T[]> {
  const pending: Promise<T>[] = [];
  const total = Math.round(rate * seconds);
  const started = performance.now();
  while (pending.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (pending.length < due) pending.push(send());
    onTick?.();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return Promise.all(pending);
}

/** Closed loop of `clients` for `seconds`: requests served per second, and every answer. */
export async function servedRate<T>(clients: number, seconds: number, send: () => Promise<T>, served: (answer: T) => boolean): Promise<{ rate: number; answers: T[] }> {
  const answers: T[] = [];
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const answer = await send();
        answers.push(answer);
        if (!served(answer)) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }),
  );
  return { rate: answers.filter(served).length / ((performance.now() - started) / 1000), answers };
}
