/**
 * The dynamic shovel that moves one queue of a transfer or of a blue-green drain (created in the
 * SOURCE broker, delivering to the target's AMQP URI), and how to read the reasons the broker gives when it terminates one.
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
 * The one builder of a shovel that moves a source queue to the same-named queue of the target:
 * `ack-mode: on-confirm` (a message is acked at the source only after the target confirmed it),
 * amqp091 on both sides, no dest-publish-properties / add-forward-headers (properties and headers
 * are republished as they are). Without `src-delete-after` it runs until its parameter is deleted
 * (a blue-green drain link); a transfer adds `queue-length`.
 */
export function queueLinkShovelDefinition({ vhost, queue, target, prefetch }: ShovelSettings): Record<string, unknown> {
  return {
    'src-protocol': 'amqp091',
    'src-uri': `amqp:///${enc(vhost)}`,
    'src-queue': queue,
    'src-prefetch-count': prefetch,
    'dest-protocol': 'amqp091',
    'dest-uri': target.secretAmqpUri(vhost),
    'dest-queue': queue,
    'ack-mode': 'on-confirm',
    'reconnect-delay': 5,
  };
}

/** A transfer's shovel: `src-delete-after: queue-length` (it moves what was there when it started, then deletes itself). */
export function transferShovelDefinition(settings: ShovelSettings): Record<string, unknown> {
  return { ...queueLinkShovelDefinition(settings), 'src-delete-after': 'queue-length' };
}

/** Shovel failures that a retry cannot fix (AMQP channel/connection errors raised by a broker). */
export const PERMANENT_REFUSAL = /PRECONDITION_FAILED|ACCESS_REFUSED|NOT_FOUND|NOT_ALLOWED|RESOURCE_LOCKED|NOT_IMPLEMENTED/;

/** A shovel's reason as people read it: `<<"text">>` (an Erlang binary) → `text`. */
export function erlangText(reason: string | undefined): string {
  if (!reason) return 'no reason given';
  return reason.replace(/<<"(.*?)">>/g, '$1').replace(/^"(.*)"$/, '$1');
}
