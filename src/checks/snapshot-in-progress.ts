/**
 * snapshot_not_in_progress: no EBS snapshot of any node's data volume may be pending when a
 * migration starts (it would compete for the volume's I/O and the migration's own snapshot).
 * - mode none / tar: no EBS snapshots are used, so passed — in tar mode the peer sidecars must
 *   still all answer, because start will need each of them for its node's archive;
 * - mode ebs: every running node's sidecar (this one and QMIG_PEERS) asks EC2
 *   (DescribeSnapshots); an unreachable EC2 or sidecar, or a node no sidecar answered for, is a
 *   failed check — never a pass by default.
 * The gathering (I/O) is src/snapshots' snapshotActivity; the verdict here is pure.
 */
import type { ClusterSnapshotActivity } from '../snapshots/index.js';
import { failed, passed, type SystemCheck } from './types.js';

export function judgeSnapshotActivity(a: ClusterSnapshotActivity, runningNodeNames: string[]): SystemCheck {
  if (a.mode === 'none') {
    return passed('snapshot_not_in_progress', 'No EBS snapshots in progress: snapshot mode is none, no EBS snapshots are used', { mode: 'none' });
  }
  const answered = new Set(a.nodes.map((n) => n.node));
  const missing = runningNodeNames.filter((n) => !answered.has(n));
  const mismatched = a.nodes.filter((n) => n.mode !== a.mode).map((n) => `${n.node} (${n.mode})`);
  const pending = a.nodes.flatMap((n) => n.in_progress.map((s) => ({ node: n.node, ...s })));
  const details = { mode: a.mode, nodes: a.nodes, errors: a.errors, nodes_without_answer: missing, in_progress: pending };
  const problems: string[] = [];
  if (a.errors.length > 0) problems.push(a.errors.map((e) => `${e.source}: ${e.error}`).join('; '));
  if (missing.length > 0) problems.push(`no sidecar answered for node(s) ${missing.join(', ')} (list the sidecar of every node in QMIG_PEERS)`);
  if (mismatched.length > 0) problems.push(`sidecars with another snapshot mode than ${a.mode}: ${mismatched.join(', ')}`);
  if (problems.length > 0) {
    const what = a.mode === 'ebs' ? 'Cannot tell whether EBS snapshots are in progress' : 'Cannot reach every sidecar for tar snapshots';
    return failed('snapshot_not_in_progress', `${what}: ${problems.join('; ')}`, details);
  }
  if (pending.length > 0) {
    const list = pending.map((p) => `${p.snapshot_id} of ${p.volume_id} (${p.node}${p.progress ? `, ${p.progress}` : ''})`).join(', ');
    return failed('snapshot_not_in_progress', `EBS snapshot(s) in progress: ${list}. Wait until they complete before migrating.`, details);
  }
  if (a.mode === 'tar') {
    return passed(
      'snapshot_not_in_progress',
      `No EBS snapshots in progress: snapshot mode is tar, no EBS snapshots are used (the sidecars of all ${a.nodes.length} node(s) answered)`,
      details,
    );
  }
  return passed('snapshot_not_in_progress', `No EBS snapshots in progress on the data volumes of all ${a.nodes.length} node(s)`, details);
}
