/**
 * What every part of the sidecar shares: configuration, the broker clients, the state store.
 * Built once by src/sidecar.ts; tests build their own against the test cluster.
 */
import { randomBytes } from 'node:crypto';
import type { AmqpPool } from './broker/amqp.js';
import type { ManagementClient } from './broker/management-client.js';
import { serviceAmqpPool, serviceManagementClient } from './broker/service-clients.js';
import type { Config } from './config/config.js';
import { LiveRegistry } from './state/live-registry.js';
import { FenceVault } from './state/fence-vault.js';
import { MigrationStore } from './state/migration-store.js';
import { StateSeal } from './state/state-seal.js';

export interface Context {
  config: Config;
  /** Management client with the sidecar's service account. */
  mgmt: ManagementClient;
  amqp: AmqpPool;
  store: MigrationStore;
  /** Seals and verifies the state kept in the broker (QMIG_STATE_SECRET). */
  seal: StateSeal;
  /** Saved permissions and run markers, in QMIG_STATE_VHOST (src/state/fence-vault.ts). */
  vault: FenceVault;
  live: LiveRegistry;
  /** Unique per sidecar process: owner of the migrations it runs. */
  instanceId: string;
  /** Name of the broker node this sidecar sits beside (from /api/overview), resolved at start. */
  nodeName: string;
}

export function createContext(config: Config, nodeName = 'unknown'): Context {
  const mgmt = serviceManagementClient(config);
  const amqp = serviceAmqpPool(config);
  const seal = new StateSeal(config.stateSecret, config.stateSecretPrevious);
  return {
    config,
    mgmt,
    amqp,
    store: new MigrationStore(mgmt, seal),
    seal,
    vault: new FenceVault(mgmt, seal, config.stateVhost),
    live: new LiveRegistry(),
    instanceId: `${nodeName}/${process.pid}/${randomBytes(4).toString('hex')}`,
    nodeName,
  };
}
