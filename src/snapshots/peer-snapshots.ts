/**
 * The coordinating sidecar talking to the other sidecars of the cluster (QMIG_PEERS), each of
 * which snapshots its own node, over their peer route (src/http/routes/peer-snapshots.ts), authenticated with the
 * service account (QMIG_USER / QMIG_PASSWORD, which needs the administrator tag there too).
 * Any answer other than the expected 2xx JSON is a SnapshotFailedError naming the peer.
 */
import axios, { type AxiosInstance } from 'axios';
import { Agent as HttpsAgent } from 'node:https';
import { reasonOf } from '../broker/management-client.js';
import { clientTlsOptions, peerTlsFiles } from '../broker/tls-options.js';
import type { Config } from '../config/config.js';
import { SnapshotFailedError } from '../errors.js';
import type { Snapshot } from '../state/records.js';
import type { NodeSnapshotActivity } from './node-snapshotter.js';

export const PEER_SNAPSHOTS_PATH = '/api/queue-migration/snapshots';

export class PeerSidecars {
  private readonly http: AxiosInstance;
  readonly urls: string[];

  /**
   * `urls`: the peers to ask (discoverPeers in peer-discovery.ts); default the QMIG_PEERS list.
   * https:// peers are always verified (QMIG_PEER_CA_FILE, else QMIG_CA_FILE) and get the client certificate.
   */
  constructor(
    config: Pick<Config, 'peers' | 'user' | 'password' | 'caFile' | 'peerCaFile' | 'clientCertFile' | 'clientKeyFile' | 'snapshotTimeoutSeconds'>,
    urls?: string[],
  ) {
    this.urls = urls ?? config.peers.map((u) => u.href.replace(/\/+$/, ''));
    this.http = axios.create({
      auth: { username: config.user, password: config.password },
      timeout: config.snapshotTimeoutSeconds * 1000,
      httpsAgent: new HttpsAgent(clientTlsOptions(peerTlsFiles(config))),
      headers: { 'content-type': 'application/json' },
      // Straight to the peer sidecar, never through an environment HTTP_PROXY.
      proxy: false,
      validateStatus: () => true,
    });
  }

  /** Asks the peer to snapshot its own node. */
  async take(peer: string, migrationId: string): Promise<Snapshot> {
    const data = await this.call<Snapshot>('POST', peer, PEER_SNAPSHOTS_PATH, { migration_id: migrationId });
    if (!data || typeof data.node !== 'string' || typeof data.snapshot_id !== 'string' || typeof data.volume_id !== 'string') {
      throw new SnapshotFailedError(`peer sidecar ${peer} answered a snapshot without node/snapshot_id/volume_id`);
    }
    return { node: data.node, snapshot_id: data.snapshot_id, volume_id: data.volume_id };
  }

  async activity(peer: string): Promise<NodeSnapshotActivity> {
    const data = await this.call<NodeSnapshotActivity>('GET', peer, `${PEER_SNAPSHOTS_PATH}/in-progress`);
    if (!data || typeof data.node !== 'string' || !Array.isArray(data.in_progress)) {
      throw new SnapshotFailedError(`peer sidecar ${peer} answered an unexpected snapshot activity`);
    }
    return data;
  }

  /** Asks the peer to remove those of `snapshots` that belong to its node. */
  async remove(peer: string, snapshots: Snapshot[]): Promise<string[]> {
    const data = await this.call<{ deleted: string[] }>('POST', peer, `${PEER_SNAPSHOTS_PATH}/delete`, { snapshots });
    return Array.isArray(data?.deleted) ? data.deleted : [];
  }

  private async call<T>(method: string, peer: string, path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await this.http.request({ method, url: `${peer}${path}`, data: body });
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw new SnapshotFailedError(`peer sidecar ${peer} unreachable: ${e.code ?? e.message}`);
    }
    if (res.status < 200 || res.status >= 300) {
      throw new SnapshotFailedError(`peer sidecar ${peer} answered ${res.status} to ${method} ${path}: ${reasonOf(res.data)}`);
    }
    return res.data as T;
  }
}
