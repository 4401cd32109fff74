/**
 * Blue-green, definitions first (pure): what the source vhost's definitions become on the target.
 * - A mirrored classic queue (its effective policy — broker/policy-match.ts, the rule the broker
 *   applies — has ha-mode) becomes a quorum queue, its arguments translated exactly as the
 *   in-place engine does (migration/argument-translation.ts: classic-only arguments dropped and
 *   reported). One that quorum cannot hold (not durable, auto-delete) is reported as not
 *   transferable, never changed silently.
 * - Exclusive queues (absent from the export; found in the live queue list) and queues named
 *   amq.* are not transferable; bindings to a queue that is not transferred are reported with it.
 * - Every other queue (classic not mirrored, quorum, stream) is kept as it is, with its type made
 *   explicit (x-queue-type), so the target vhost's default queue type never changes it.
 * - Policies lose their mirroring keys (every ha-* key, and queue-master-locator in a policy that
 *   mirrored); a policy left with an empty definition is dropped. Exchanges, exchange-to-exchange
 *   and queue bindings and the other policies are kept.
 * - A dropped policy no longer outranks the others: a queue that another (lower-priority) policy
 *   now reaches on the target is reported in `policy_shifts` (what applies on the source without
 *   its mirroring keys, against what will apply on the target).
 */
import { classicQueuePolicy, mirrors } from '../broker/policy-match.js';
import type { BrokerPolicy } from '../broker/management-types.js';
import { translateArguments } from '../migration/argument-translation.js';
import {
  canonicalJson,
  normalDefinitions,
  objectName,
  queueType,
  type BindingDefinition,
  type PolicyDefinition,
  type QueueDefinition,
  type VhostDefinitions,
} from './definitions.js';

export interface QueueConversion {
  name: string;
  from_type: 'classic';
  to_type: 'quorum';
  /** The mirroring policy that made it a mirrored queue. */
  policy: string;
  /** Classic-only arguments the quorum queue does not take (translateArguments), sorted. */
  dropped_arguments: string[];
}

export interface PolicyChange {
  name: string;
  stripped_keys: string[];
  /** True when nothing was left and the policy is not created on the target. */
  dropped: boolean;
}

export interface NotTransferable {
  kind: 'queues' | 'bindings';
  name: string;
  reason: string;
}

/** A queue whose effective policy (mirroring keys aside) differs on the target. */
export interface PolicyShift {
  queue: string;
  source_policy: string | null;
  target_policy: string | null;
  /** The source policy's definition without its mirroring keys ({} when none applied). */
  source_definition: Record<string, unknown>;
  target_definition: Record<string, unknown>;
}

export interface TransformResult {
  /** What the target vhost gets, in normal form (definitions.ts normalDefinitions). */
  definitions: VhostDefinitions;
  queue_conversions: QueueConversion[];
  policy_changes: PolicyChange[];
  policy_shifts: PolicyShift[];
  not_transferable: NotTransferable[];
}

/** A queue of the live list (GET /api/queues/{vhost}) the export does not show. */
export interface LiveQueue {
  name: string;
  exclusive?: boolean;
}

/** Policy keys that configure classic queue mirroring. */
export function isMirroringKey(key: string): boolean {
  return key.startsWith('ha-');
}

/** The policy without its mirroring keys (and queue-master-locator when it mirrored). */
export function stripMirroring(p: PolicyDefinition): { policy: PolicyDefinition; stripped: string[] } {
  const mirrored = 'ha-mode' in (p.definition ?? {});
  const stripped: string[] = [];
  const definition: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p.definition ?? {})) {
    if (isMirroringKey(k) || (mirrored && k === 'queue-master-locator')) stripped.push(k);
    else definition[k] = v;
  }
  return { policy: { ...p, definition }, stripped: stripped.sort() };
}

const asBrokerPolicies = (policies: PolicyDefinition[]): BrokerPolicy[] =>
  policies.map((p) => ({ vhost: '', name: p.name, pattern: p.pattern, 'apply-to': p['apply-to'], definition: p.definition, priority: p.priority }));

/** Why a queue cannot go to the target as the transform wants it, or null. */
function refusal(q: QueueDefinition, mirrored: boolean, policy: BrokerPolicy | null): string | null {
  if (q.name.startsWith('amq.')) return "queue names starting with 'amq.' are reserved and cannot be declared on the target";
  if (!mirrored) return null;
  // The in-place check's rule (checks/queue-suitability.ts): a 3.10 quorum queue refuses it.
  const overflow = q.arguments?.['x-overflow'] === 'reject-publish-dlx' ? 'argument' : policy?.definition?.overflow === 'reject-publish-dlx' ? 'policy' : null;
  if (overflow)
    return `overflow=reject-publish-dlx (${overflow}) is not supported by quorum queues: they support drop-head and reject-publish, and reject-publish does not dead-letter. Change the overflow behaviour on the source first`;
  if (!q.durable)
    return 'mirrored classic queue that is not durable: a quorum queue is always durable (declare it durable on the source, or let its clients declare it on the target)';
  if (q.auto_delete) return 'mirrored classic queue that is auto-delete: a quorum queue cannot be auto-delete (let its clients declare it on the target)';
  return null;
}

/**
 * The queues whose effective policy, mirroring keys aside, is another on the target than on the
 * source (RabbitMQ 3.10 applies `all` and `queues` policies to every queue type alike).
 */
export function policyShifts(queues: QueueDefinition[], before: PolicyDefinition[], after: PolicyDefinition[]): PolicyShift[] {
  const sourcePolicies = asBrokerPolicies(before);
  const targetPolicies = asBrokerPolicies(after);
  const shifts: PolicyShift[] = [];
  for (const q of queues) {
    const was = classicQueuePolicy(q.name, sourcePolicies);
    const will = classicQueuePolicy(q.name, targetPolicies);
    const wasDefinition = was ? stripMirroring(was).policy.definition : {};
    const willDefinition = will?.definition ?? {};
    if (canonicalJson(wasDefinition) === canonicalJson(willDefinition)) continue;
    shifts.push({
      queue: q.name,
      source_policy: was?.name ?? null,
      target_policy: will?.name ?? null,
      source_definition: wasDefinition,
      target_definition: willDefinition,
    });
  }
  return shifts;
}

export function transformDefinitions(source: VhostDefinitions, live: LiveQueue[] = []): TransformResult {
  const src = normalDefinitions(source);
  const policies = asBrokerPolicies(src.policies);
  const queues: QueueDefinition[] = [];
  const conversions: QueueConversion[] = [];
  const notTransferable: NotTransferable[] = [];

  for (const q of src.queues) {
    const policy = queueType(q) === 'classic' ? classicQueuePolicy(q.name, policies) : null;
    const mirrored = mirrors(policy);
    const why = refusal(q, mirrored, policy);
    if (why) {
      notTransferable.push({ kind: 'queues', name: q.name, reason: why });
      continue;
    }
    if (mirrored) {
      const translated = translateArguments(q.arguments);
      queues.push({ name: q.name, durable: true, auto_delete: false, arguments: translated.arguments });
      conversions.push({ name: q.name, from_type: 'classic', to_type: 'quorum', policy: policy!.name, dropped_arguments: translated.dropped });
    } else {
      queues.push(q);
    }
  }
  const exported = new Set(src.queues.map((q) => q.name));
  for (const q of live) {
    if (exported.has(q.name)) continue;
    if (q.exclusive)
      notTransferable.push({
        kind: 'queues',
        name: q.name,
        reason: 'exclusive queue: it belongs to one connection; its client declares it again on the target',
      });
  }

  const kept = new Set(queues.map((q) => q.name));
  const bindings: BindingDefinition[] = [];
  for (const b of src.bindings) {
    if (b.destination_type === 'queue' && !kept.has(b.destination)) {
      notTransferable.push({ kind: 'bindings', name: objectName('bindings', b), reason: `its queue '${b.destination}' is not transferred` });
    } else {
      bindings.push(b);
    }
  }

  const policyChanges: PolicyChange[] = [];
  const keptPolicies: PolicyDefinition[] = [];
  for (const p of src.policies) {
    const { policy, stripped } = stripMirroring(p);
    const dropped = Object.keys(policy.definition).length === 0;
    if (stripped.length > 0) policyChanges.push({ name: p.name, stripped_keys: stripped, dropped });
    if (!dropped) keptPolicies.push(policy);
  }

  return {
    definitions: normalDefinitions({ queues, exchanges: src.exchanges, bindings, policies: keptPolicies }),
    queue_conversions: conversions,
    policy_changes: policyChanges,
    policy_shifts: policyShifts(queues, src.policies, keptPolicies),
    not_transferable: notTransferable,
  };
}
