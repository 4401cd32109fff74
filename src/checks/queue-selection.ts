/**
 * Which queues a start (or a check) is about: pure selection over the vhost's queue list.
 * - Candidates are classic queues whose effective policy mirrors them (`ha-mode`). Whether a
 *   candidate is *suitable* (durable, not exclusive, no TTL …) is the checks' business
 *   (src/checks), so that check and start judge the same set.
 * - `queue_names` (exact) wins over `batch_size`/`batch_order`; names that do not exist or are
 *   not mirrored classic queues are reported, not silently dropped.
 * - Batches are taken over the whole vhost, ordered by message bytes (ties: by name).
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { MigrationOptions } from '../state/records.js';
import { isInternalQueue } from '../broker/names.js';

export interface NamedReason {
  name: string;
  reason: string;
  /** The explanation behind a bare reason token (skipped unsuitable queues). */
  detail?: string;
}

export interface Selection {
  candidates: BrokerQueue[];
  /** queue_names that do not exist in the vhost. */
  notFound: string[];
  /** queue_names that exist but are not mirrored classic queues, with why. */
  ineligible: NamedReason[];
}

export function isQuorum(q: BrokerQueue): boolean {
  return q.type === 'quorum' || q.arguments?.['x-queue-type'] === 'quorum';
}

export function isMirroredClassic(q: BrokerQueue): boolean {
  if (isQuorum(q) || q.type === 'stream' || q.arguments?.['x-queue-type'] === 'stream') return false;
  const def = q.effective_policy_definition;
  return !!def && typeof def === 'object' && 'ha-mode' in def;
}

function whyIneligible(q: BrokerQueue): string {
  if (isInternalQueue(q.name)) return 'an internal queue of qmig (lock, temporary or probe queue)';
  if (isQuorum(q)) return 'already a quorum queue';
  if (q.type === 'stream') return 'a stream, not a classic queue';
  return 'not mirrored (no ha-mode in its effective policy)';
}

const bytesOf = (q: BrokerQueue) => q.message_bytes ?? 0;

export function selectQueues(queues: BrokerQueue[], options: Pick<MigrationOptions, 'queue_names' | 'batch_size' | 'batch_order'>): Selection {
  if (options.queue_names && options.queue_names.length > 0) {
    const byName = new Map(queues.map((q) => [q.name, q]));
    const candidates: BrokerQueue[] = [];
    const notFound: string[] = [];
    const ineligible: NamedReason[] = [];
    for (const name of new Set(options.queue_names)) {
      const q = byName.get(name);
      if (!q) notFound.push(name);
      else if (isInternalQueue(name) || !isMirroredClassic(q)) ineligible.push({ name, reason: whyIneligible(q) });
      else candidates.push(q);
    }
    return { candidates, notFound, ineligible };
  }
  // qmig's own queues (e.g. the exclusive lock queue in the state vhost, which a mirroring policy
  // of that vhost also matches) are never candidates.
  const mirrored = queues.filter((q) => !isInternalQueue(q.name) && isMirroredClassic(q));
  const sign = options.batch_order === 'largest_first' ? -1 : 1;
  mirrored.sort((a, b) => sign * (bytesOf(a) - bytesOf(b)) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const limit = options.batch_size === 'all' || options.batch_size === 0 ? mirrored.length : options.batch_size;
  return { candidates: mirrored.slice(0, limit), notFound: [], ineligible: [] };
}

/**
 * Execution order that spreads work over the nodes: queues grouped by the node of their classic
 * master, then taken round-robin (first of every node, second of every node, …), each group
 * keeping its own order. Pure; `nodeOf` may answer null (grouped together).
 */
export function interleaveByNode<T>(items: T[], nodeOf: (item: T) => string | null | undefined): T[] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = nodeOf(item) ?? '';
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(item);
  }
  const lists = [...groups.values()];
  const out: T[] = [];
  for (let i = 0; out.length < items.length; i++) {
    for (const g of lists) if (i < g.length) out.push(g[i]);
  }
  return out;
}
