/**
 * Which peer sidecars to ask: the fixed QMIG_PEERS list, or, with QMIG_PEERS_DNS, every address
 * the cluster's headless Service resolves to (one per pod: `<cluster>-nodes` with the RabbitMQ
 * cluster operator) minus this pod's own addresses, on the sidecars' port. Resolved each time a
 * snapshot operation starts, so pods that were rescheduled (new IPs) are found without a restart.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/config.js';
import { SnapshotFailedError } from '../errors.js';

export interface AddressResolver {
  /** Every address of `name` (as getaddrinfo gives them: DNS with the pod's search domains, /etc/hosts). */
  resolveAll(name: string): Promise<string[]>;
  /** The addresses of this host (this pod), never peers. */
  localAddresses(): Set<string>;
}

export const systemResolver: AddressResolver = {
  async resolveAll(name) {
    const found = await lookup(name, { all: true, verbatim: true });
    return found.map((a) => a.address);
  },
  localAddresses() {
    return new Set(Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address)));
  },
};

/** `http://<address>:<port>` with IPv6 addresses bracketed. */
export function peerUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The peer URLs (no trailing slash), sorted; throws SnapshotFailedError when the name does not resolve. */
export async function discoverPeers(config: Pick<Config, 'peers' | 'peersDns' | 'listenPort'>, resolver: AddressResolver = systemResolver): Promise<string[]> {
  if (!config.peersDns) return config.peers.map((u) => u.href.replace(/\/+$/, ''));
  let addresses: string[];
  try {
    addresses = await resolver.resolveAll(config.peersDns);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new SnapshotFailedError(`cannot resolve QMIG_PEERS_DNS "${config.peersDns}": ${e.code ?? e.message}`);
  }
  const local = resolver.localAddresses();
  const others = [...new Set(addresses)].filter((a) => !local.has(a)).sort();
  return others.map((a) => peerUrl(a, config.listenPort));
}
