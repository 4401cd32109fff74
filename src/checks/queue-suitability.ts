/**
 * Per-queue issues (queue_checks.results) and the queue_suitability check.
 *
 * error (the queue is unsuitable: start refuses, or skips it in skip mode):
 *   exclusive, non_durable, unsuitable_overflow (reject-publish-dlx as argument or policy),
 *   queue_expires (x-expires or policy), message_ttl (argument or policy, unless
 *   allow_message_ttl), too_many_queues (selected queues beyond QMIG_MAX_QUEUES_PER_MIGRATION),
 *   unsynchronized, policy_would_be_lost;
 * warning (informs, never blocks): auto_delete;
 * info (a note): policy_keys_dropped — the queue's policy holds keys that only mean something
 *   for a classic or mirrored queue (queue-version, queue-mode, queue-master-locator,
 *   max-priority, besides the ha-* mirroring keys): a quorum queue has no such setting, so they
 *   are dropped by design, never counted as a loss (as the arguments x-queue-version etc. are).
 *
 * policy_would_be_lost: a policy applies to a queue all-or-nothing, and a quorum queue refuses
 * any policy holding a key it does not support (ha-*, queue-mode, queue-master-locator, …;
 * measured on 3.10.8). The quorum queue then falls back to the highest-priority matching policy
 * that it does accept (also measured), or to none. The issue is raised when settings that still
 * matter for a quorum queue (dead-letter-*, max-length*, overflow, message-ttl, expires,
 * delivery-limit, …) would not be the same under that fallback; it names them and the fix.
 * Keys dropped by design are not such settings.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BrokerPolicy, BrokerQueue } from '../broker/management-client.js';
import { unsynchronizedIssue } from './queue-synchronization.js';
import { failed, passed, warning, type QueueIssue, type SystemCheck } from './types.js';

/** Policy keys a quorum queue does not accept (the whole policy then stops applying to it). */
const CLASSIC_ONLY_POLICY_KEYS = new Set([
  'queue-mode',
  'max-priority',
  'queue-master-locator',
  'single-active-consumer',
  'max-age',
  'stream-max-segment-size-bytes',
  'initial-cluster-size',
]);

export function isUnsupportedByQuorum(key: string): boolean {
  return key.startsWith('ha-') || CLASSIC_ONLY_POLICY_KEYS.has(key);
}

/**
 * Policy keys that only mean something for classic or mirrored queues: a quorum queue has no
 * such setting (3.10.8 even accepts queue-version in a quorum queue's policy and ignores it), so
 * losing them is the point of the migration, not a loss.
 */
const DROPPED_BY_DESIGN_KEYS = new Set(['queue-version', 'queue-mode', 'queue-master-locator', 'max-priority']);

export function isDroppedByDesign(key: string): boolean {
  return key.startsWith('ha-') || DROPPED_BY_DESIGN_KEYS.has(key);
}

/** Keys of the queue's policy dropped by design, when any besides the mirroring keys (null: none worth a note). */
export function droppedPolicyKeys(q: BrokerQueue, policies: BrokerPolicy[]): { policy: string; keys: string[] } | null {
  if (!q.policy) return null;
  const current = policies.find((p) => p.name === q.policy);
  const keys = Object.keys(current?.definition ?? {})
    .filter(isDroppedByDesign)
    .sort();
  return current && keys.some((k) => !k.startsWith('ha-')) ? { policy: current.name, keys } : null;
}

export interface SuitabilityOptions {
  allowMessageTtl: boolean;
  /** Most queues one migration takes (QMIG_MAX_QUEUES_PER_MIGRATION, default 10000). */
  maxQueues: number;
}

export const UNSUITABLE_REASON = (n: number) => `Found ${n} queue(s) with issues (too many messages, too many bytes, or unsuitable arguments)`;

function effective(q: BrokerQueue): Record<string, unknown> {
  const d = q.effective_policy_definition;
  return d && typeof d === 'object' ? d : {};
}

/** Where a setting comes from: the queue's argument wins, else its effective policy. */
function settingSource(q: BrokerQueue, argument: string, policyKey: string): { value: unknown; source: string } | null {
  if (q.arguments && argument in q.arguments) return { value: q.arguments[argument], source: `argument ${argument}` };
  const def = effective(q);
  if (policyKey in def) {
    const name =
      [q.policy ? `policy '${q.policy}'` : '', q.operator_policy ? `operator policy '${q.operator_policy}'` : ''].filter(Boolean).join(' / ') || 'policy';
    return { value: def[policyKey], source: `${name} key ${policyKey}` };
  }
  return null;
}

export interface LostPolicy {
  policy: string;
  unsupported_keys: string[];
  lost: Record<string, unknown>;
  fallback_policy: string | null;
}

/** What a queue's policy would lose when the queue becomes a quorum queue (null: nothing). */
export function lostPolicyKeys(q: BrokerQueue, policies: BrokerPolicy[]): LostPolicy | null {
  if (!q.policy) return null;
  const current = policies.find((p) => p.name === q.policy);
  if (!current) return null;
  const def = current.definition ?? {};
  const unsupported = Object.keys(def).filter(isUnsupportedByQuorum);
  const matter = Object.keys(def).filter((k) => !isUnsupportedByQuorum(k) && !isDroppedByDesign(k));
  if (unsupported.length === 0 || matter.length === 0) return null;
  const fallback = quorumFallbackPolicy(q.name, policies);
  const lost: Record<string, unknown> = {};
  for (const k of matter) {
    if (!fallback || !(k in fallback.definition) || !isDeepStrictEqual(fallback.definition[k], def[k])) lost[k] = def[k];
  }
  if (Object.keys(lost).length === 0) return null;
  return { policy: current.name, unsupported_keys: unsupported.sort(), lost, fallback_policy: fallback?.name ?? null };
}

/** The policy a quorum queue named `name` would get: highest priority, matching, applicable. */
export function quorumFallbackPolicy(name: string, policies: BrokerPolicy[]): BrokerPolicy | null {
  const applicable = policies.filter((p) => {
    if (!['queues', 'all', 'quorum_queues'].includes(p['apply-to'])) return false;
    if (Object.keys(p.definition ?? {}).some(isUnsupportedByQuorum)) return false;
    try {
      return new RegExp(p.pattern, 'u').test(name);
    } catch {
      return false;
    }
  });
  applicable.sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0) || (a.name < b.name ? -1 : 1));
  return applicable[0] ?? null;
}

/** Issues of one queue on its own (too_many_queues is judged over the selection). */
export function queueIssues(q: BrokerQueue, policies: BrokerPolicy[], opts: Pick<SuitabilityOptions, 'allowMessageTtl'>): QueueIssue[] {
  const issues: QueueIssue[] = [];
  const add = (type: QueueIssue['type'], reason: string, severity: QueueIssue['severity'] = 'error') => issues.push({ queue: q.name, type, reason, severity });

  if (q.exclusive) add('exclusive', 'Exclusive queues belong to one connection and are not supported by quorum queues');
  if (q.durable === false) {
    add(
      'non_durable',
      'Non-durable (transient) queue: quorum queues are always durable, so converting it would change its semantics. Re-declare it durable or skip it.',
    );
  }
  const overflow = settingSource(q, 'x-overflow', 'overflow');
  if (overflow && overflow.value === 'reject-publish-dlx') {
    add(
      'unsuitable_overflow',
      `overflow=reject-publish-dlx (${overflow.source}) is not supported by quorum queues: they support drop-head and reject-publish, and reject-publish does not dead-letter. Change the overflow behaviour or skip the queue.`,
    );
  }
  const expires = settingSource(q, 'x-expires', 'expires');
  if (expires) {
    add(
      'queue_expires',
      `Queue expiry (${expires.source} = ${JSON.stringify(expires.value)}): the queue could expire and be deleted during migration. Remove the expiry or skip the queue.`,
    );
  }
  const ttl = settingSource(q, 'x-message-ttl', 'message-ttl');
  if (ttl && !opts.allowMessageTtl) {
    add(
      'message_ttl',
      `Message TTL (${ttl.source} = ${JSON.stringify(ttl.value)}): messages can expire during migration (with clients fenced they are counted as expired, see expiring_messages). Set allow_message_ttl to migrate it anyway, remove the TTL, or skip the queue.`,
    );
  }
  const unsync = unsynchronizedIssue(q);
  if (unsync) issues.push(unsync);
  const lost = lostPolicyKeys(q, policies);
  if (lost) {
    const keys = Object.entries(lost.lost)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(', ');
    const instead = lost.fallback_policy ? `policy '${lost.fallback_policy}' would apply instead` : 'no policy would apply';
    add(
      'policy_would_be_lost',
      `Policy '${lost.policy}' also holds ${lost.unsupported_keys.join(', ')}, which quorum queues do not accept, so the whole policy stops applying after conversion (${instead}) and these settings would be lost: ${keys}. ` +
        `Before migrating, add a policy matching this queue with only ${Object.keys(lost.lost).join(', ')} and a lower priority than '${lost.policy}': the classic queue keeps '${lost.policy}', the quorum queue falls back to the new policy.`,
    );
  }
  const dropped = droppedPolicyKeys(q, policies);
  if (dropped) {
    add(
      'policy_keys_dropped',
      `Policy '${dropped.policy}' holds ${dropped.keys.join(', ')}, which only mean something for classic or mirrored queues: the quorum queue has no such settings, so they are dropped by design (nothing to do).`,
      'info',
    );
  }
  if (q.auto_delete) {
    add(
      'auto_delete',
      'auto_delete queue: quorum queues cannot auto-delete, so after migration it stays when its last consumer goes. Delete it yourself when it is no longer needed.',
      'warning',
    );
  }
  return issues;
}

/** Issues of every selected queue, in selection order; queues beyond `maxQueues` get too_many_queues. */
export function findQueueIssues(candidates: BrokerQueue[], policies: BrokerPolicy[], opts: SuitabilityOptions): QueueIssue[] {
  const out: QueueIssue[] = [];
  candidates.forEach((q, i) => {
    out.push(...queueIssues(q, policies, opts));
    if (i >= opts.maxQueues) {
      out.push({
        queue: q.name,
        type: 'too_many_queues',
        reason: `Too many queues for one migration (${candidates.length} mirrored queues selected, at most ${opts.maxQueues}): this queue is beyond the limit. Migrate in batches (batch_size ≤ ${opts.maxQueues}).`,
        severity: 'error',
      });
    }
  });
  return out;
}

/**
 * Which blocking issue names a skipped queue, in the plugin's order of checks (its documented
 * skip reasons first, then qmig's own): the queue record's `error` is that bare token, as the
 * plugin writes it; every blocking issue's explanation goes to `error_detail`.
 */
const SKIP_TOKEN_ORDER: QueueIssue['type'][] = [
  'too_many_queues',
  'unsynchronized',
  'unsuitable_overflow',
  'queue_expires',
  'message_ttl',
  'exclusive',
  'non_durable',
  'policy_would_be_lost',
];

export function skipReason(issues: QueueIssue[]): { reason: string; detail: string } | null {
  const blocking = issues.filter((i) => i.severity === 'error');
  if (blocking.length === 0) return null;
  const rank = (t: QueueIssue['type']) => (SKIP_TOKEN_ORDER.includes(t) ? SKIP_TOKEN_ORDER.indexOf(t) : SKIP_TOKEN_ORDER.length);
  const first = [...blocking].sort((a, b) => rank(a.type) - rank(b.type))[0];
  return { reason: first.type, detail: blocking.map((i) => `${i.type}: ${i.reason}`).join(' | ') };
}

/** Names of queues with at least one blocking issue. */
export function unsuitableQueueNames(issues: QueueIssue[]): Set<string> {
  return new Set(issues.filter((i) => i.severity === 'error').map((i) => i.queue));
}

export function checkQueueSuitability(candidates: BrokerQueue[], issues: QueueIssue[], skip: boolean): SystemCheck {
  const unsuitable = unsuitableQueueNames(issues);
  const byType: Record<string, number> = {};
  for (const i of issues) byType[i.type] = (byType[i.type] ?? 0) + 1;
  const warnings = issues.filter((i) => i.severity === 'warning').length;
  const notes = issues.filter((i) => i.severity === 'info').length;
  const details = { queues_checked: candidates.length, problematic_queue_count: unsuitable.size, issues_by_type: byType, warnings, notes };
  if (unsuitable.size === 0) {
    const counted = [warnings > 0 ? `${warnings} warning(s)` : '', notes > 0 ? `${notes} note(s)` : ''].filter(Boolean).join(', ');
    const note = counted ? ` (${counted} in queue_checks.results)` : '';
    return passed('queue_suitability', `All queues are suitable for migration${note}`, details);
  }
  if (skip) {
    return warning('queue_suitability', `${unsuitable.size} unsuitable queue(s) will be skipped (see queue_checks.results)`, details);
  }
  return failed('queue_suitability', UNSUITABLE_REASON(unsuitable.size), details);
}
