/**
 * The dynamic shovel that moves one queue of a transfer (created in the SOURCE broker, delivering
 * to the target's AMQP URI), and how to read the reasons the broker gives when it terminates one.
 */
import { enc } from '../broker/management-client.js';
import type { TargetCluster } from './target-cluster.js';

export interface ShovelSettings {
  vhost: string;
  queue: string;
  target: TargetCluster;
  /** Unacked messages at most (QMIG_TRANSFER_PREFETCH): the at-least-once window of a cancel. */
  prefetch: number;
}

/**
 * `ack-mode: on-confirm` (a message is acked at the source only after the target confirmed it);
 * `src-delete-after: queue-length` (it moves what was there when it started, then deletes itself).
 */
export function transferShovelDefinition({ vhost, queue, target, prefetch }: ShovelSettings): Record<string, unknown> {
  return {
    'src-protocol': 'amqp091',
    'src-uri': `amqp:///${enc(vhost)}`,
    'src-queue': queue,
    'src-prefetch-count': prefetch,
    'src-delete-after': 'queue-length',
    'dest-protocol': 'amqp091',
    'dest-uri': target.secretAmqpUri(vhost),
    'dest-queue': queue,
    'ack-mode': 'on-confirm',
    'reconnect-delay': 5,
  };
}

/** Shovel failures that a retry cannot fix (AMQP channel/connection errors raised by a broker). */
export const PERMANENT_REFUSAL = /PRECONDITION_FAILED|ACCESS_REFUSED|NOT_FOUND|NOT_ALLOWED|RESOURCE_LOCKED|NOT_IMPLEMENTED/;

/** A shovel's reason as people read it: `<<"text">>` (an Erlang binary) → `text`. */
export function erlangText(reason: string | undefined): string {
  if (!reason) return 'no reason given';
  return reason.replace(/<<"(.*?)">>/g, '$1').replace(/^"(.*)"$/, '$1');
}
