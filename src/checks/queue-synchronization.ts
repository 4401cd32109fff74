/**
 * queue_synchronization: every mirror of every queue to migrate must be synchronised with its
 * master. An unsynchronised mirror means the messages exist on fewer nodes than the policy says;
 * qmig refuses to move such a queue (or skips it in skip mode) rather than migrate from a master
 * whose loss would lose messages.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import { failed, passed, warning, type QueueIssue, type SystemCheck } from './types.js';

/** Mirrors (slave nodes) that are not in the synchronised list. */
export function unsynchronisedMirrors(q: BrokerQueue): string[] {
  const mirrors = Array.isArray(q.slave_nodes) ? q.slave_nodes : [];
  const synced = new Set(Array.isArray(q.synchronised_slave_nodes) ? q.synchronised_slave_nodes : []);
  return mirrors.filter((n) => !synced.has(n));
}

export function unsynchronizedIssue(q: BrokerQueue): QueueIssue | null {
  const missing = unsynchronisedMirrors(q);
  if (missing.length === 0) return null;
  return {
    queue: q.name,
    type: 'unsynchronized',
    reason: `Mirror(s) on ${missing.join(', ')} not synchronised with the master on ${q.node ?? 'unknown node'}. Synchronise the queue (rabbitmqctl sync_queue -p <vhost> ${q.name}) or wait for automatic synchronisation, then retry.`,
    severity: 'error',
  };
}

export function checkQueueSynchronization(candidates: BrokerQueue[], skip: boolean): SystemCheck {
  const unsynced = candidates
    .map((q) => ({ queue: q.name, master: q.node ?? null, unsynchronised_mirrors: unsynchronisedMirrors(q) }))
    .filter((u) => u.unsynchronised_mirrors.length > 0);
  const details = { queues_checked: candidates.length, unsynchronized_queues: unsynced };
  if (unsynced.length === 0) return passed('queue_synchronization', 'All mirrored classic queues are fully synchronized', details);
  const names =
    unsynced
      .slice(0, 20)
      .map((u) => u.queue)
      .join(', ') + (unsynced.length > 20 ? ', …' : '');
  if (skip) {
    return warning('queue_synchronization', `${unsynced.length} mirrored queue(s) not fully synchronized will be skipped: ${names}`, details);
  }
  return failed(
    'queue_synchronization',
    `${unsynced.length} mirrored queue(s) are not fully synchronized: ${names}. Synchronise them (rabbitmqctl sync_queue) or use skip_unsuitable_queues.`,
    details,
  );
}
