/**
 * Probes GET /v2/health/live every 20 ms for a while and prints the latencies (ms) as JSON.
 * Runs as its own process at normal priority, as a kubelet or load balancer probe would, so that
 * what it measures is the node's answer time, not the load generator's scheduling.
 * Usage: tsx bench/lib/health-probe.ts URL DELAY_MS DURATION_MS
 */
import { Pool } from 'undici';

const [url, delayArg, durationArg] = process.argv.slice(2);
const pool = new Pool(url!, { connections: 1 });
await new Promise((resolve) => setTimeout(resolve, Number(delayArg)));
const end = performance.now() + Number(durationArg);
const samples: number[] = [];
while (performance.now() < end) {
  const started = performance.now();
  const response = await pool.request({ method: 'GET', path: '/v2/health/live' });
  await response.body.dump();
  if (response.statusCode === 200) samples.push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await pool.close();
process.stdout.write(JSON.stringify(samples));
