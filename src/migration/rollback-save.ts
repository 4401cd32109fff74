/**
 * The `save` step of a rollback (quorum → mirrored classic; the rest of the step graph is the
 * migration's, run in the other direction — queue-work.ts Direction). It reads the quorum queue
 * as it is now (its bindings, exact count) and takes what to declare from `detail.restore`: the
 * classic queue's arguments, durability and node as the migration saved them before it touched
 * the queue. The mirroring comes back by itself: qmig never changes policies, so the policy that
 * mirrored the queue applies to the classic queue again (rollback-outcome.ts says whether it does).
 */
import { isQuorum } from '../checks/queue-selection.js';
import type { QueueStep } from '../state/records.js';
import { QueueFailure, QueueSkip } from './queue-errors.js';
import { temporaryReplicas, type QueueWork } from './queue-work.js';

export async function saveForRollback(w: QueueWork): Promise<QueueStep> {
  const q = w.q;
  const restore = q.detail.restore;
  if (!restore || typeof restore !== 'object')
    throw new QueueFailure('nothing saved to restore this queue from: the migration did not record its classic queue');
  // Where the messages are now: a failed migration can have left them in the classic queue (it
  // gathered them back), in the quorum queue, or partly in its temporary queue.
  const seen = await w.actions.observe();
  if (seen.mainAvailable === false || seen.temporaryAvailable === false) {
    throw new QueueFailure('a quorum queue of this queue has no running replica (no leader): nothing was changed; start its replicas and roll back again');
  }
  if (seen.main === 'absent' && !seen.temporary) throw new QueueSkip('queue no longer exists');
  if (seen.main === 'target' && !seen.temporary) throw new QueueSkip('already a classic queue');
  const info = seen.main === 'source' ? await w.actions.readQueue() : null;
  if (seen.main === 'source' && (!info || !isQuorum(info))) throw new QueueSkip('queue changed while it was looked at');
  // The bindings clients rely on today: the queue's, or, when it is gone, those its temporary queue took over.
  const bindings = await w.actions.bindingsOf(seen.main === 'absent' ? w.temporary : q.name);
  const count = (seen.mainCount ?? 0) + (seen.temporaryCount ?? 0);
  q.original = {
    durable: true,
    auto_delete: restore.auto_delete === true,
    arguments: restore.arguments,
    bindings,
    policy: restore.policy,
    effective_policy_definition: null,
    node: restore.node,
    message_count: count,
    message_bytes: info?.message_bytes ?? 0,
  };
  q.total_messages = count;
  q.migrated_messages = 0;
  q.detail.temporary_queue = w.temporary;
  // As a migration's temporary queue: a replica on each running node, up to three (queue-work.ts).
  q.detail.temporary_replicas = temporaryReplicas(w.env.runningNodes);
  q.detail.consumers_at_start = info?.consumers ?? 0;
  w.temporaryExists = seen.temporary;
  if (seen.main !== 'source') {
    // Half done by the migration: the classic queue is declared (again) and the temporary queue
    // moved into it, as the second half of a migration would.
    await w.checkpointPhase('save', seen.main === 'target' ? 'target' : 'temporary');
    return 'declare_quorum';
  }
  await w.checkpointPhase('save', 'source');
  if (seen.temporary) return 'move_to_temporary';
  return count === 0 ? 'empty_fast_path' : 'declare_temporary';
}
