/**
 * The addresses of a local topology (services/topology), as `mec up` and `mec blueprint up` both
 * take them: where every part binds, and the port of each node, link and the link control API.
 */
import type { Command } from 'commander';
import { port } from './option-parsers.ts';

export interface TopologyAddresses {
  host: string;
  mecPort: number;
  cloudPort: number;
  deviceLinkPort: number;
  cloudLinkPort: number;
  controlPort: number;
}

export function addTopologyAddressOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address every part binds', '127.0.0.1')
    .option('--mec-port <port>', 'the MEC node (apps and cameras use it; 0: any free port)', port('--mec-port'), 8080)
    .option('--cloud-port <port>', 'the cloud node', port('--cloud-port'), 8090)
    .option('--device-link-port <port>', 'the device-mec link: devices reach the MEC node here', port('--device-link-port'), 8081)
    .option('--cloud-link-port <port>', 'the mec-cloud link: the MEC node reaches the cloud here', port('--cloud-link-port'), 8091)
    .option('--control-port <port>', 'the link control API that `mec link` uses', port('--control-port'), 8079);
}

/** Only the addresses of a command's parsed options (which hold its other flags too). */
export function topologyAddresses(options: TopologyAddresses): TopologyAddresses {
  const { host, mecPort, cloudPort, deviceLinkPort, cloudLinkPort, controlPort } = options;
  return { host, mecPort, cloudPort, deviceLinkPort, cloudLinkPort, controlPort };
}
