/**
 * ONE picture of the cluster that a check (or a start) judges, gathered with as few management
 * calls as possible, all in parallel, so that every check of one answer sees the same data:
 *   cluster part: GET /api/nodes (selected columns) and GET /api/overview;
 *   vhost part:   GET /api/vhosts/{vh}, GET /api/queues/{vh} (selected columns), GET /api/policies/{vh}.
 * `check/all` gathers the cluster part once and the vhost part per vhost.
 */
import type { BrokerNode, BrokerPolicy, BrokerQueue, BrokerVhost, ManagementClient } from '../broker/management-client.js';
import { BrokerUnavailableError, VhostNotFoundError } from '../errors.js';
import { timestamp } from '../state/records.js';
import { isInternalQueue } from '../broker/names.js';
import { sleep } from '../async/concurrency.js';

/** A node as the checks need it: the management fields plus the plugins it runs. */
export interface NodeState extends BrokerNode {
  enabled_plugins?: string[];
  /** Names of the Erlang applications running on the node (plugins included). */
  running_applications?: string[];
}

export interface ClusterState {
  nodes: NodeState[];
  /** Broker version and the node that answered (from /api/overview). */
  rabbitmq_version: string | null;
  cluster_name: string | null;
  gathered_at: string;
}

export interface VhostState {
  vhost: BrokerVhost;
  queues: BrokerQueue[];
  policies: BrokerPolicy[];
}

export type ClusterSnapshot = ClusterState & VhostState;

const NODE_COLUMNS = [
  'name',
  'running',
  'mem_used',
  'mem_limit',
  'mem_alarm',
  'disk_free',
  'disk_free_limit',
  'disk_free_alarm',
  'partitions',
  'uptime',
  'enabled_plugins',
  'applications',
];

export const QUEUE_COLUMNS = [
  'name',
  'vhost',
  'type',
  'durable',
  'auto_delete',
  'exclusive',
  'arguments',
  'node',
  'leader',
  'members',
  'slave_nodes',
  'synchronised_slave_nodes',
  'policy',
  'operator_policy',
  'effective_policy_definition',
  'messages',
  'messages_ready',
  'messages_unacknowledged',
  'message_bytes',
  'consumers',
  'state',
];

export async function gatherClusterState(mgmt: ManagementClient): Promise<ClusterState> {
  const [nodes, overview] = await Promise.all([
    mgmt.ok<Array<BrokerNode & { enabled_plugins?: string[]; applications?: Array<{ name: string }> }>>('GET', '/nodes', undefined, {
      params: { columns: NODE_COLUMNS.join(',') },
    }),
    mgmt.ok<Record<string, unknown>>('GET', '/overview', undefined, { params: { columns: 'rabbitmq_version,cluster_name,node' } }),
  ]);
  return {
    nodes: nodes.map(({ applications, ...n }) => ({
      ...n,
      running_applications: Array.isArray(applications) ? applications.map((a) => a.name) : undefined,
    })),
    rabbitmq_version: typeof overview.rabbitmq_version === 'string' ? overview.rabbitmq_version : null,
    cluster_name: typeof overview.cluster_name === 'string' ? overview.cluster_name : null,
    gathered_at: timestamp(),
  };
}

/** Throws VhostNotFoundError when the vhost does not exist. */
export async function gatherVhostState(mgmt: ManagementClient, vhost: string): Promise<VhostState> {
  const [info, queues, policies] = await Promise.all([
    mgmt.vhost(vhost),
    mgmt.queues(vhost, QUEUE_COLUMNS).catch(notFoundAs<BrokerQueue[]>([])),
    mgmt.policies(vhost).catch(notFoundAs<BrokerPolicy[]>([])),
  ]);
  if (!info) throw new VhostNotFoundError(vhost);
  // qmig's own queues are not user queues: the lock queues of the state vhost, temporary queues,
  // a relaxed-checks probe (this check's or another sidecar's) that exists for a moment.
  const userQueues = await withStatistics(
    mgmt,
    vhost,
    queues.filter((q) => !isInternalQueue(q.name)),
  );
  return { vhost: info, queues: userQueues, policies };
}

const STATISTICS_ATTEMPTS = 6;
const STATISTICS_RETRY_MS = 500;

/**
 * A queue row without `effective_policy_definition` has no statistics yet (just declared, or a
 * node whose management agent is not reporting): judging it would silently treat a mirrored
 * queue as unmirrored and leave it out. Re-read for a few seconds; if rows are still incomplete,
 * refuse with 503 naming them rather than answer from partial data.
 */
async function withStatistics(mgmt: ManagementClient, vhost: string, queues: BrokerQueue[]): Promise<BrokerQueue[]> {
  let current = queues;
  for (let attempt = 1; ; attempt++) {
    const missing = current.filter((q) => q.effective_policy_definition === undefined);
    if (missing.length === 0) return current;
    if (attempt >= STATISTICS_ATTEMPTS) {
      const names = missing
        .slice(0, 5)
        .map((q) => `'${q.name}'`)
        .join(', ');
      throw new BrokerUnavailableError(
        `the broker has no statistics yet for ${missing.length} queue(s) of vhost '${vhost}' (${names}${missing.length > 5 ? ', …' : ''}); ` +
          'a node may not be reporting to the management API. Retry in a few seconds.',
      );
    }
    await sleep(STATISTICS_RETRY_MS);
    current = (await mgmt.queues(vhost, QUEUE_COLUMNS).catch(notFoundAs<BrokerQueue[]>([]))).filter((q) => !isInternalQueue(q.name));
  }
}

export async function gatherClusterSnapshot(mgmt: ManagementClient, vhost: string): Promise<ClusterSnapshot> {
  const [cluster, vh] = await Promise.all([gatherClusterState(mgmt), gatherVhostState(mgmt, vhost)]);
  return { ...cluster, ...vh };
}

/** A vhost deleted between calls answers 404 on its queues: the vhost lookup reports it. */
function notFoundAs<T>(fallback: T): (err: unknown) => T {
  return (err) => {
    if ((err as { status?: number })?.status === 404) return fallback;
    throw err;
  };
}

export function runningNodes(nodes: NodeState[]): NodeState[] {
  return nodes.filter((n) => n.running);
}
