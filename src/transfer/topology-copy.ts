/**
 * Recreates on the target what a queue needs before its messages move:
 * - the vhost (if missing: created with the source vhost's default queue type, and the target
 *   user is given full permissions on the vhost it just created);
 * - every exchange the queue is bound from, with its type, durable, auto_delete, internal and
 *   arguments (an exchange that already exists on the target must be equivalent, else the queue fails);
 * - the queue with its type (x-queue-type always explicit, so a target vhost's default type never
 *   changes it), durability and arguments (an existing target queue must be equivalent);
 * - its bindings (routing key and arguments exactly; re-adding an existing binding is a no-op).
 * Not copied (reported as notes on the queue): policies, and exchange-to-exchange bindings upstream
 * of the queue's exchanges.
 */
import { enc, type BrokerExchange, type BrokerQueue, type ManagementClient } from '../broker/management-client.js';
import { canonicalJson } from '../broker/canonical-json.js';
import { BrokerRequestError } from '../errors.js';

/** A difference between what the source has and what already exists on the target. */
export class TopologyConflictError extends Error {
  override readonly name = 'TopologyConflictError';
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b);

export function queueTypeOf(q: Pick<BrokerQueue, 'type' | 'arguments'>): string {
  const t = q.type ?? (q.arguments?.['x-queue-type'] as string | undefined);
  return typeof t === 'string' && t !== '' ? t : 'classic';
}

/** The declaration the target queue gets: the source's arguments with the type made explicit. */
export function targetQueueDeclaration(q: BrokerQueue): { durable: boolean; auto_delete: boolean; arguments: Record<string, unknown> } {
  return { durable: q.durable, auto_delete: false, arguments: { ...(q.arguments ?? {}), 'x-queue-type': queueTypeOf(q) } };
}

/** What differs between two queues' definitions (type, durable, arguments), or null. */
export function queueDifference(source: BrokerQueue, target: BrokerQueue): string | null {
  const diffs: string[] = [];
  if (queueTypeOf(source) !== queueTypeOf(target)) diffs.push(`type ${queueTypeOf(target)} (source: ${queueTypeOf(source)})`);
  if (source.durable !== target.durable) diffs.push(`durable ${target.durable} (source: ${source.durable})`);
  const strip = (a: Record<string, unknown> | undefined) => {
    const { 'x-queue-type': _t, ...rest } = a ?? {};
    void _t;
    return rest;
  };
  if (!same(strip(source.arguments), strip(target.arguments))) {
    diffs.push(`arguments ${JSON.stringify(target.arguments ?? {})} (source: ${JSON.stringify(source.arguments ?? {})})`);
  }
  return diffs.length > 0 ? diffs.join(', ') : null;
}

export function exchangeDifference(source: BrokerExchange, target: BrokerExchange): string | null {
  const diffs: string[] = [];
  for (const k of ['type', 'durable', 'auto_delete', 'internal'] as const) {
    if (source[k] !== target[k]) diffs.push(`${k} ${String(target[k])} (source: ${String(source[k])})`);
  }
  if (!same(source.arguments, target.arguments))
    diffs.push(`arguments ${JSON.stringify(target.arguments ?? {})} (source: ${JSON.stringify(source.arguments ?? {})})`);
  return diffs.length > 0 ? diffs.join(', ') : null;
}

/**
 * Makes sure the vhost exists on the target. Returns a note when it was created.
 */
export async function ensureTargetVhost(source: ManagementClient, target: ManagementClient, targetUser: string, vhost: string): Promise<string | null> {
  if (await target.vhost(vhost)) return null;
  const sourceVhost = await source.vhost(vhost);
  const body: Record<string, unknown> = {};
  const dqt = sourceVhost?.default_queue_type;
  if (dqt && dqt !== 'undefined') body.defaultqueuetype = dqt;
  await target.putVhost(vhost, body);
  await target.setPermission(vhost, targetUser, { configure: '.*', write: '.*', read: '.*' });
  return `created vhost '${vhost}' on the target${body.defaultqueuetype ? ` (default queue type ${String(body.defaultqueuetype)})` : ''} and gave '${targetUser}' full permissions on it`;
}

export interface CopiedTopology {
  exchanges: string[];
  bindings: number;
  /** True when the queue already existed on the target (equivalent). */
  queueExisted: boolean;
  notes: string[];
}

/** Recreates the queue's exchanges, the queue and its bindings on the target. */
export async function copyQueueTopology(source: ManagementClient, target: ManagementClient, vhost: string, queue: BrokerQueue): Promise<CopiedTopology> {
  const notes: string[] = [];
  const bindings = (await source.queueBindings(vhost, queue.name)).filter((b) => b.source !== '' && b.destination_type === 'queue');

  const exchanges = [...new Set(bindings.map((b) => b.source))];
  for (const name of exchanges) {
    const def = await source.exchange(vhost, name);
    if (!def) throw new TopologyConflictError(`exchange '${name}' that the queue is bound from disappeared from the source`);
    const upstream = await source.ok<unknown[]>('GET', `/exchanges/${enc(vhost)}/${enc(name)}/bindings/destination`);
    if (upstream.length > 0)
      notes.push(`exchange '${name}' is itself bound from ${upstream.length} exchange(s) on the source; exchange-to-exchange bindings were not copied`);
    const existing = await target.exchange(vhost, name);
    if (existing) {
      const diff = exchangeDifference(def, existing);
      if (diff) throw new TopologyConflictError(`exchange '${name}' exists on the target with different ${diff}`);
      continue;
    }
    await target.declareExchange(vhost, name, {
      type: def.type,
      durable: def.durable,
      auto_delete: def.auto_delete,
      internal: def.internal,
      arguments: def.arguments ?? {},
    });
  }

  const existingQueue = await target.queue(vhost, queue.name);
  if (existingQueue) {
    const diff = queueDifference(queue, existingQueue);
    if (diff) throw new TopologyConflictError(`queue exists on the target with different ${diff}`);
    notes.push('the queue already existed on the target (equivalent); messages were added to it');
  } else {
    try {
      await target.declareQueue(vhost, queue.name, targetQueueDeclaration(queue));
    } catch (err) {
      if (err instanceof BrokerRequestError) throw new TopologyConflictError(`the target refused to declare the queue: ${err.brokerReason}`);
      throw err;
    }
  }

  for (const b of bindings) {
    await target.bindQueue(vhost, b.source, queue.name, b.routing_key, b.arguments ?? {});
  }

  if (queue.policy)
    notes.push(
      `policy '${queue.policy}' of the source was not copied (definition ${JSON.stringify(queue.effective_policy_definition ?? {})}); the target's own policies apply`,
    );
  if (queue.operator_policy) notes.push(`operator policy '${queue.operator_policy}' of the source was not copied`);
  return { exchanges, bindings: bindings.length, queueExisted: !!existingQueue, notes };
}
