/**
 * cluster_health: every cluster node running and no network partition. A migration moves every
 * queue through quorum queues whose members live on all nodes; with a node down or a partition
 * the new queues would start under-replicated or split.
 */
import type { NodeState } from './cluster-snapshot.js';
import { failed, passed, type SystemCheck } from './types.js';

export function checkClusterHealth(nodes: NodeState[]): SystemCheck {
  const down = nodes.filter((n) => !n.running).map((n) => n.name);
  const partitions = nodes
    .filter((n) => n.running && Array.isArray(n.partitions) && n.partitions.length > 0)
    .map((n) => ({ node: n.name, partitioned_from: n.partitions as string[] }));
  const details = { nodes: nodes.map((n) => n.name), nodes_down: down, partitions };
  if (nodes.length === 0) return failed('cluster_health', 'The broker listed no cluster nodes', details);
  const problems: string[] = [];
  if (down.length > 0) problems.push(`node(s) down: ${down.join(', ')}`);
  if (partitions.length > 0) {
    problems.push(`network partition: ${partitions.map((p) => `${p.node} cannot see ${p.partitioned_from.join(', ')}`).join('; ')}`);
  }
  if (problems.length > 0) {
    return failed('cluster_health', `Cluster is not healthy (${problems.join('; ')}). All nodes must be running and connected before migration.`, details);
  }
  return passed('cluster_health', `All ${nodes.length} cluster node(s) are running with no network partition`, details);
}
