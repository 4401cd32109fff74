/**
 * The 4.x readiness report of a vhost: what RabbitMQ 4.x removes or changes that this vhost still
 * relies on, each item naming its queues, policies or channels and the fix. Gathered by I/O
 * (`gatherReadiness`: queues with their statistics, policies, channels), judged purely
 * (`judgeReadiness`). `check` shows it as the system check `readiness_4x` (a warning, never a
 * failure: nothing here stops a migration); GET readiness/:vhost answers it on its own.
 *
 * Severity: `warning` for what breaks or silently changes behaviour at the upgrade and is not the
 * migration's own work; `info` for what the migration (or the upgrade itself) takes care of but
 * an operator should know: a mirroring policy that still mirrors queues qmig will migrate is
 * expected before the migration, and only a warning once nothing it mirrors would be migrated.
 */
import type { BrokerPolicy, BrokerQueue, ManagementClient } from '../broker/management-client.js';
import { enc } from '../broker/management-client.js';
import { isInternalQueue } from '../broker/names.js';
import { passed, warning, type SystemCheck } from './types.js';

/** The classic-queue mirroring keys of a policy definition (RabbitMQ 4.0 rejects them). */
export const MIRRORING_KEYS = ['ha-mode', 'ha-params', 'ha-sync-mode', 'ha-sync-batch-size', 'ha-promote-on-shutdown', 'ha-promote-on-failure'];

/** The delivery limit 4.x gives a quorum queue that sets none. */
export const DEFAULT_DELIVERY_LIMIT_4X = 20;

export type ReadinessKind =
  'mirroring_keys_in_policies' | 'delivery_limit' | 'transient_queues' | 'global_qos' | 'single_replica_classic' | 'lazy_mode' | 'classic_queue_v1';

export interface ReadinessSubject {
  type: 'queue' | 'policy' | 'channel';
  name: string;
  /** What was seen (e.g. the mirroring keys, the redeliveries so far). */
  detail?: string;
  /** Policies only: the definition after the edit, or null when the edit deletes the policy (nothing left). */
  new_definition?: Record<string, unknown> | null;
}

export interface ReadinessItem {
  kind: ReadinessKind;
  severity: 'warning' | 'info';
  message: string;
  fix: string;
  subjects: ReadinessSubject[];
}

export interface ReadinessReport {
  vhost: string;
  /** No warning: nothing left that 4.x removes or changes silently (info items may remain). */
  ready_for_4x: boolean;
  items: ReadinessItem[];
}

export interface ReadinessChannel {
  name: string;
  global_prefetch_count?: number;
  consumer_count?: number;
}

export interface ReadinessInput {
  vhost: string;
  queues: BrokerQueue[];
  policies: BrokerPolicy[];
  channels: ReadinessChannel[];
}

const QUEUE_COLUMNS = [
  'name',
  'type',
  'durable',
  'auto_delete',
  'exclusive',
  'arguments',
  'policy',
  'effective_policy_definition',
  'slave_nodes',
  'message_stats.redeliver',
];
const CHANNEL_COLUMNS = ['name', 'global_prefetch_count', 'consumer_count'];

/** The broker's picture of the vhost that the report judges (three reads, in parallel). */
export async function gatherReadiness(mgmt: ManagementClient, vhost: string): Promise<ReadinessInput> {
  const [queues, policies, channels] = await Promise.all([
    mgmt.queues(vhost, QUEUE_COLUMNS),
    mgmt.policies(vhost),
    mgmt.ok<ReadinessChannel[]>('GET', `/vhosts/${enc(vhost)}/channels`, undefined, { params: { columns: CHANNEL_COLUMNS.join(',') } }),
  ]);
  return { vhost, queues: queues.filter((q) => !isInternalQueue(q.name)), policies, channels };
}

const typeOf = (q: BrokerQueue): string => q.type ?? 'classic';
const effective = (q: BrokerQueue, key: string): unknown => q.arguments?.[`x-${key}`] ?? q.effective_policy_definition?.[key];
/** A mirrored classic queue: mirrors now, or a policy that mirrors it. */
const mirrored = (q: BrokerQueue): boolean =>
  typeOf(q) === 'classic' && ((q.slave_nodes?.length ?? 0) > 0 || (q.effective_policy_definition ?? {})['ha-mode'] !== undefined);
/** What qmig's in-place migration moves (queue-selection.ts: durable, not exclusive, mirrored). */
const migratable = (q: BrokerQueue): boolean => mirrored(q) && q.durable && !q.exclusive && !q.auto_delete;
const redeliveries = (q: BrokerQueue): number => Number((q as { message_stats?: { redeliver?: number } }).message_stats?.redeliver ?? 0);
const queueSubject = (q: BrokerQueue, detail?: string): ReadinessSubject =>
  detail ? { type: 'queue', name: q.name, detail } : { type: 'queue', name: q.name };
const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The definition without its mirroring keys; null when nothing would be left (the policy is deleted). */
export function strippedDefinition(definition: Record<string, unknown>): Record<string, unknown> | null {
  const rest = Object.fromEntries(Object.entries(definition).filter(([k]) => !MIRRORING_KEYS.includes(k)));
  return Object.keys(rest).length > 0 ? rest : null;
}

/** The classic queues a policy mirrors right now, by the broker's own account (`policy` of each queue). */
export function queuesMirroredBy(policy: string, queues: readonly BrokerQueue[]): BrokerQueue[] {
  return queues.filter((q) => q.policy === policy && mirrored(q));
}

export function judgeReadiness(input: ReadinessInput): ReadinessReport {
  const queues = [...input.queues].sort(byName);
  const items: ReadinessItem[] = [];
  const add = (item: ReadinessItem): void => {
    if (item.subjects.length > 0) items.push(item);
  };

  const mirroringPolicies = input.policies.filter((p) => MIRRORING_KEYS.some((k) => k in (p.definition ?? {}))).sort(byName);
  const stillNeeded = mirroringPolicies.filter((p) => queuesMirroredBy(p.name, queues).some(migratable));
  const leftOver = mirroringPolicies.filter((p) => !stillNeeded.includes(p));
  const policySubject = (p: BrokerPolicy, extra = ''): ReadinessSubject => ({
    type: 'policy',
    name: p.name,
    detail: `keys ${MIRRORING_KEYS.filter((k) => k in p.definition).join(', ')}${extra}`,
    new_definition: strippedDefinition(p.definition),
  });
  add({
    kind: 'mirroring_keys_in_policies',
    severity: 'warning',
    message: 'Policies with classic queue mirroring keys: RabbitMQ 4.x refuses them (definitions with them do not import, the policies do not apply)',
    fix: 'Remove the mirroring keys (each subject shows the definition after the edit; null: delete the policy), e.g. POST readiness/:vhost/strip-mirroring-keys',
    subjects: leftOver.map((p) => policySubject(p)),
  });
  add({
    kind: 'mirroring_keys_in_policies',
    severity: 'info',
    message: 'Policies that still mirror queues the migration will move: expected before the migration; strip their mirroring keys once it has completed',
    fix: 'Migrate the vhost first (start), then remove the mirroring keys',
    subjects: stillNeeded.map((p) => policySubject(p, `; mirrors ${queuesMirroredBy(p.name, queues).filter(migratable).length} queue(s) to migrate`)),
  });

  // Quorum queues (and the queues the migration turns into quorum queues) without a delivery limit.
  const noLimit = queues.filter((q) => (typeOf(q) === 'quorum' || migratable(q)) && effective(q, 'delivery-limit') === undefined);
  add({
    kind: 'delivery_limit',
    severity: 'info',
    message: `Quorum queues without a delivery limit: 4.x gives them ${DEFAULT_DELIVERY_LIMIT_4X}, so a message redelivered more often (a consumer that rejects and requeues it, or crashes on it) is dropped or dead-lettered`,
    fix: `Set delivery-limit in a policy (or x-delivery-limit) to what consumers need; 4.x accepts -1 for no limit. Subjects with redeliveries show how many the broker counted so far`,
    subjects: noLimit.map((q) => queueSubject(q, redeliveries(q) > 0 ? `${redeliveries(q)} redelivery(ies) so far` : undefined)),
  });

  add({
    kind: 'transient_queues',
    severity: 'warning',
    message: 'Transient (non-durable) non-exclusive queues: deprecated in 4.x (feature transient_nonexcl_queues) and refused once the deprecation is enforced',
    fix: 'Declare them durable, or exclusive if one connection owns them',
    subjects: queues.filter((q) => !q.durable && !q.exclusive).map((q) => queueSubject(q)),
  });

  add({
    kind: 'global_qos',
    severity: 'warning',
    message: 'Channels with a global prefetch (basic.qos global=true): quorum queues do not support it and 4.x deprecates it (feature global_qos)',
    fix: 'Use a per-consumer prefetch (basic.qos with global=false) in these clients',
    subjects: input.channels
      .filter((c) => (c.global_prefetch_count ?? 0) > 0)
      .sort(byName)
      .map((c) => ({ type: 'channel', name: c.name, detail: `global prefetch ${c.global_prefetch_count}, ${c.consumer_count ?? 0} consumer(s)` })),
  });

  add({
    kind: 'single_replica_classic',
    severity: 'warning',
    message: 'Mirrored classic queues the migration does not move (exclusive, non-durable or auto-delete): 4.x removes mirroring, they keep one replica',
    fix: 'Accept a single replica for them, or redeclare them durable, not exclusive and not auto-delete so they can be migrated',
    subjects: queues.filter((q) => mirrored(q) && !migratable(q)).map((q) => queueSubject(q)),
  });

  const classic = queues.filter((q) => typeOf(q) === 'classic');
  add({
    kind: 'lazy_mode',
    severity: 'info',
    message: 'Classic queues in lazy mode: the mode is ignored since 3.12 (classic queues v2 keep messages on disk as needed)',
    fix: 'Nothing breaks; remove x-queue-mode / queue-mode to avoid confusion',
    subjects: classic.filter((q) => effective(q, 'queue-mode') === 'lazy').map((q) => queueSubject(q)),
  });
  add({
    kind: 'classic_queue_v1',
    severity: 'info',
    message:
      'Classic queues on version 1 (the 3.x default): 4.0 removes v1 and converts them at the upgrade, which takes a while for queues with many messages',
    fix: 'Convert ahead of the upgrade with queue-version 2 in a policy (or migrate them to quorum queues)',
    subjects: classic.filter((q) => !migratable(q) && Number(effective(q, 'queue-version') ?? 1) === 1).map((q) => queueSubject(q)),
  });

  return { vhost: input.vhost, ready_for_4x: items.every((i) => i.severity !== 'warning'), items };
}

/** Subjects an item carries in check's details (GET readiness/:vhost lists them all). */
const CHECK_SUBJECTS = 20;

/**
 * The report as the system check `check` shows: a warning while anything 4.x breaks is left, never
 * a failure. Each item keeps its first 20 subjects and their total (`subject_count`), so that a
 * vhost of thousands of queues does not make every check answer large.
 */
export function readinessCheck(report: ReadinessReport): SystemCheck {
  const warnings = report.items.filter((i) => i.severity === 'warning');
  const details = { items: report.items.map((i) => ({ ...i, subjects: i.subjects.slice(0, CHECK_SUBJECTS), subject_count: i.subjects.length })) };
  if (warnings.length > 0) {
    const list = warnings.map((i) => `${i.kind} (${i.subjects.length})`).join(', ');
    return warning('readiness_4x', `To fix before RabbitMQ 4.x: ${list}. GET readiness/:vhost lists the subjects and the fixes.`, details);
  }
  const notes = report.items.length;
  return passed('readiness_4x', notes > 0 ? `Nothing that 4.x breaks; ${notes} note(s) in the details` : 'Nothing that 4.x removes or changes', details);
}
