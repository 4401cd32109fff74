/**
 * leader_balance: masters of the vhost's mirrored classic queues per node.
 *
 * Rule (decided here, documented in the check's details):
 * - fewer than `minQueues` (10) mirrored queues: not judged (passed);
 * - ratio = max / min over the nodes that hold at least one master; imbalanced when
 *   ratio > `maxRatio` (QMIG_LEADER_BALANCE_RATIO, default 1.6);
 * - a running node with NO master counts too, as soon as there are at least as many queues as
 *   running nodes (so that every node could hold one): max/min over the non-empty nodes alone
 *   would call "everything on one node" balanced, the worst case of all. The ratio is then
 *   reported as null (infinite) and the empty nodes are named. With fewer queues than nodes an
 *   empty node is unavoidable and does not count.
 * All mirrored queues of the vhost are counted (not only a batch): the balance is a property of
 * the cluster the quorum queues will be created in.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import { failed, passed, type SystemCheck } from './types.js';

export const LEADERS_IMBALANCED_REASON = 'Queue leaders are imbalanced. Re-balance queue leaders before migration.';

export interface LeaderBalance {
  total_queues: number;
  distribution: Record<string, number>;
  min_masters: number;
  max_masters: number;
  /** max/min over non-empty nodes; null when a node that counts has none (infinite). */
  imbalance_ratio: number | null;
  max_allowed_ratio: number;
  nodes_without_masters: string[];
  judged: boolean;
  balanced: boolean;
}

export function leaderBalance(mirroredQueues: BrokerQueue[], runningNodeNames: string[], maxRatio: number, minQueues = 10): LeaderBalance {
  const distribution: Record<string, number> = {};
  for (const n of runningNodeNames) distribution[n] = 0;
  for (const q of mirroredQueues) {
    if (!q.node) continue;
    distribution[q.node] = (distribution[q.node] ?? 0) + 1;
  }
  const total = mirroredQueues.length;
  const counts = Object.values(distribution);
  const nonEmpty = counts.filter((c) => c > 0);
  const min = nonEmpty.length ? Math.min(...nonEmpty) : 0;
  const max = nonEmpty.length ? Math.max(...nonEmpty) : 0;
  const emptyRunning = runningNodeNames.filter((n) => distribution[n] === 0);
  const judged = total >= minQueues;
  const emptyCounts = runningNodeNames.length > 0 && total >= runningNodeNames.length && emptyRunning.length > 0;
  const ratio = emptyCounts ? null : min > 0 ? Math.round((max / min) * 1000) / 1000 : null;
  const balanced = !judged || (!emptyCounts && (ratio === null || ratio <= maxRatio));
  return {
    total_queues: total,
    distribution,
    min_masters: emptyCounts ? 0 : min,
    max_masters: max,
    imbalance_ratio: ratio,
    max_allowed_ratio: maxRatio,
    nodes_without_masters: emptyCounts ? emptyRunning : [],
    judged,
    balanced,
  };
}

export function checkLeaderBalance(mirroredQueues: BrokerQueue[], runningNodeNames: string[], maxRatio: number, minQueues = 10): SystemCheck {
  const b = leaderBalance(mirroredQueues, runningNodeNames, maxRatio, minQueues);
  const details = { ...b, min_queues_judged: minQueues };
  if (!b.judged) {
    return passed('leader_balance', `Leader balance not judged: only ${b.total_queues} mirrored queue(s) (fewer than ${minQueues})`, details);
  }
  if (!b.balanced) return failed('leader_balance', LEADERS_IMBALANCED_REASON, details);
  return passed('leader_balance', 'Queue leaders are balanced across cluster nodes', details);
}
