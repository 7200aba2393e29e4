/**
 * The way one tier reaches another as the placement config says: an HTTP client and a heartbeat
 * monitor on it (interval, timeout, misses before unreachable), with the link assumed as `prior`
 * until it is measured. The MEC node watches its cloud this way, the device its MEC node.
 */
import type { Config } from '../core/config.ts';
import { PeerMonitor } from './peer-monitor.ts';
import { TierClient } from './tier-client.ts';

export interface Peer {
  client: TierClient;
  monitor: PeerMonitor;
}

export function connectPeer(tier: string, url: string, placement: Readonly<Config['placement']>, prior: { rttMs: number; bandwidthMbit: number }): Peer {
  const client = new TierClient(tier, url);
  const monitor = new PeerMonitor({
    client,
    intervalMs: placement.heartbeatMs,
    timeoutMs: placement.heartbeatTimeoutMs,
    missesToUnreachable: placement.unreachableAfterMisses,
    prior,
  });
  return { client, monitor };
}
