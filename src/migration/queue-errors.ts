/**
 * How a queue's migration stops short of `completed`: the run lost the migration
 * (RunAbortedError), the queue cannot go on (QueueFailure, with what to tell the operator), or
 * the queue is not for this migration (QueueSkip) — and which broker errors are only transient
 * (isTransient: the queue retries from what the broker then shows).
 */
import { BrokerError, BrokerRequestError, BrokerUnavailableError, QueueFailure } from '../errors.js';

/** This process lost the migration: stop without touching its state any more. */
export class RunAbortedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'RunAbortedError';
  }
}

/** A queue that cannot go on, with what to tell the operator (shared with transfers). */
export { QueueFailure };

/** The queue is left as it is (gone, already quorum, not mirrored …): `skipped` with this reason. */
export class QueueSkip extends Error {}

/**
 * Errors worth a retry: the broker unreachable or answering 5xx, an AMQP connection lost, or a
 * management call that the answering node could not carry out on another node that is stopping
 * or booting (3.10 answers 400 "Request to node … failed with …" then, or "Node … could not be
 * contacted" to a quorum queue's declare while a member's node stops: measured stopping the whole cluster), or a node whose vhost or
 * quorum cluster is not up yet (400 `cluster_not_formed`, `vhost_supervisor_not_running`: seen on
 * a loaded node; the step is redone from what the broker then shows), or a 404 that only a
 * node that is starting answers (shovel listings, global-parameter writes).
 */
const BOOTING_NODE_404 = /^(GET \/(shovels|parameters\/shovel)\/[^/]+$|PUT \/global-parameters\/)/;

export function isTransient(err: unknown): boolean {
  if (err instanceof BrokerUnavailableError || err instanceof BrokerError) return true;
  if (
    err instanceof BrokerRequestError &&
    /Request to node \S+ failed|Node \S+ could not be contacted|nodedown|noproc|cluster_not_formed|vhost_supervisor_not_running/i.test(err.brokerReason)
  )
    return true;
  // A node that is starting (`start_app`) answers 404 for a moment to calls that cannot be refused
  // so otherwise: listing a vhost's shovels or shovel parameters, writing a global parameter
  // (measured on 3.10.8; its queues and the vhost itself read as 404 then too: BrokerQueueActions).
  if (err instanceof BrokerRequestError && err.status === 404 && BOOTING_NODE_404.test(`${err.method} ${err.path}`)) return true;
  const message = (err as Error)?.message ?? '';
  return !(err instanceof QueueFailure) && /Connection closed|ECONNRESET|ECONNREFUSED|socket hang up|heartbeat timeout|is down or inaccessible/i.test(message);
}
