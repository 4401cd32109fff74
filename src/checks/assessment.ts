/**
 * ONE validation chain for `check` and `start`. Both gather the same picture of the cluster
 * (cluster-snapshot.ts: nodes, overview, the vhost's queues and policies, in parallel), run the
 * relaxed-checks probe and ask the sidecars about snapshots in progress, then judge it all with
 * the same pure function (`evaluate`). `check` answers the report; `start` refuses with a 400
 * whose reason is the message of the FIRST failed check, in the report's order:
 *   shovel_plugin, cluster_health, active_alarms, memory_usage, disk_space,
 *   relaxed_checks_setting, leader_balance, queue_synchronization, queue_suitability,
 *   expiring_messages (never fails), snapshot_not_in_progress, eligible_queues.
 * So `overall_ready` is false exactly when start (with the same options) would refuse, and the
 * refusal always names a check the report shows as failed. A `warning` never blocks.
 * Skip mode: queues with a blocking per-queue issue become `skipped` (reason: the plugin's bare
 * token, e.g. `unsuitable_overflow`; the issues' explanations in `error_detail`)
 * and queue_synchronization / queue_suitability turn into warnings.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { Config } from '../config/config.js';
import type { Context } from '../context.js';
import { BadRequestError, BrokerRequestError, VhostNotFoundError } from '../errors.js';
import { isMirroredClassic, selectQueues, type NamedReason } from './queue-selection.js';
import { snapshotActivity, type ClusterSnapshotActivity } from '../snapshots/index.js';
import type { MigrationOptions } from '../state/records.js';
import { checkActiveAlarms } from './alarms.js';
import { checkClusterHealth } from './cluster-health.js';
import { gatherClusterState, gatherVhostState, runningNodes, type ClusterSnapshot, type ClusterState } from './cluster-snapshot.js';
import { checkDiskSpace } from './disk-space.js';
import { checkEligibleQueues } from './eligible-queues.js';
import { DEFAULT_MOVE_MODEL, gatherExpirySamples, judgeExpiringMessages, type ExpirySamples } from './expiring-messages.js';
import { checkLeaderBalance } from './leader-balance.js';
import { checkMemoryUsage } from './memory-usage.js';
import { checkQueueSuitability, findQueueIssues, skipReason, unsuitableQueueNames } from './queue-suitability.js';
import { checkQueueSynchronization } from './queue-synchronization.js';
import { judgeRelaxedChecks, probeRelaxedRedeclaration, type RelaxedProbeResult } from './relaxed-checks.js';
import { checkShovelPlugin } from './shovel-plugin.js';
import { judgeSnapshotActivity } from './snapshot-in-progress.js';
import { gatherStateIntegrity, judgeStateIntegrity } from './state-integrity.js';
import { gatherLeftovers, judgeLeftovers } from './leftovers.js';
import { gatherReadiness, judgeReadiness, readinessCheck } from './readiness.js';
import type { CheckReport, QueueIssue, SystemCheck } from './types.js';
import { mapAtMost } from '../async/concurrency.js';

export type { CheckReport, CheckStatus, QueueIssue, SystemCheck } from './types.js';

export interface CheckOptions {
  skip_unsuitable_queues: boolean;
  allow_message_ttl: boolean;
}

export interface StartAssessment {
  report: CheckReport;
  /** Queues to migrate, in order. */
  toMigrate: BrokerQueue[];
  /** Queues recorded as skipped from the start (unsuitable in skip mode, unknown/ineligible names). */
  skipped: NamedReason[];
  /** Blocking per-queue issues by queue name (the reasons behind `skipped` in skip mode). */
  issuesByQueue: Map<string, QueueIssue[]>;
  /** The cluster picture the verdict was made on. */
  snapshot: ClusterSnapshot;
}

export type AssessOptions = Pick<MigrationOptions, 'queue_names' | 'batch_size' | 'batch_order' | 'skip_unsuitable_queues' | 'allow_message_ttl'>;

/** The options `check` judges with: the whole vhost, as a start without queue_names/batch would. */
export function checkAsStart(options: CheckOptions): AssessOptions {
  return {
    skip_unsuitable_queues: options.skip_unsuitable_queues,
    allow_message_ttl: options.allow_message_ttl,
    queue_names: null,
    batch_size: 'all',
    batch_order: 'smallest_first',
  };
}

/** POST check/:vhost. Throws VhostNotFoundError for an unknown vhost. */
export async function runCheck(ctx: Context, vhost: string, options: CheckOptions): Promise<CheckReport> {
  const [a, integrity, leftovers, readiness] = await Promise.all([
    assess(ctx, vhost, checkAsStart(options)),
    gatherStateIntegrity(ctx),
    gatherLeftovers(ctx, vhost),
    gatherReadiness(ctx.mgmt, vhost),
  ]);
  return withCheckOnly(a.report, [judgeStateIntegrity(integrity, ctx.config.stateVhost), judgeLeftovers(leftovers), readinessCheck(judgeReadiness(readiness))]);
}

/**
 * `check` also reports the cluster-wide state_integrity (src/checks/state-integrity.ts), the
 * vhost's leftovers (src/checks/leftovers.ts) and its 4.x readiness (src/checks/readiness.ts, a
 * warning at most); start does not judge them (a tenant who can write a
 * global parameter, or declare a queue named like a temporary one, must not block migrations).
 */
function withCheckOnly(report: CheckReport, extra: SystemCheck[]): CheckReport {
  const checks = [...report.system_checks.checks, ...extra];
  return {
    ...report,
    overall_ready: report.overall_ready && extra.every((c) => c.status !== 'failed'),
    system_checks: { all_passed: checks.every((c) => c.status === 'passed'), checks },
  };
}

/**
 * POST check/all: one report per vhost (cluster state and snapshot activity gathered once).
 * overall_ready: at least one vhost has mirrored queues and every vhost that has some is ready.
 */
export async function runCheckAll(
  ctx: Context,
  options: CheckOptions,
  /** Only these vhosts (tests on a shared cluster keep to their own); default: every vhost. */
  include: (vhost: string) => boolean = () => true,
): Promise<{ vhost: 'all'; overall_ready: boolean; vhosts: CheckReport[] }> {
  const [cluster, vhosts, activity, integrity] = await Promise.all([
    gatherClusterState(ctx.mgmt),
    ctx.mgmt.vhosts(),
    snapshotActivity(ctx),
    gatherStateIntegrity(ctx),
  ]);
  const integrityCheck = judgeStateIntegrity(integrity, ctx.config.stateVhost);
  const names = vhosts
    .map((v) => v.name)
    .filter(include)
    .sort();
  const results = await mapAtMost(4, names, async (name) => {
    try {
      const [a, leftovers, readiness] = await Promise.all([
        assess(ctx, name, checkAsStart(options), { cluster, activity }),
        gatherLeftovers(ctx, name),
        gatherReadiness(ctx.mgmt, name),
      ]);
      return withCheckOnly(a.report, [integrityCheck, judgeLeftovers(leftovers), readinessCheck(judgeReadiness(readiness))]);
    } catch (err) {
      if (err instanceof VhostNotFoundError || (err instanceof BrokerRequestError && err.status === 404)) return null; // deleted meanwhile
      throw err;
    }
  });
  const reports = results.filter((r): r is CheckReport => r !== null);
  const withQueues = reports.filter((r) => r.queue_checks.summary.total_queues > 0);
  return {
    vhost: 'all',
    overall_ready: withQueues.length > 0 && withQueues.every((r) => r.overall_ready),
    vhosts: reports,
  };
}

/** Inside start: the same chain; throws BadRequestError (the spec's messages) when start must refuse. */
export async function assessStart(ctx: Context, vhost: string, options: MigrationOptions): Promise<StartAssessment> {
  const a = await assess(ctx, vhost, options);
  const refusal = startRefusal(a.report);
  if (refusal) throw refusal;
  return a;
}

/** The 400 start answers for this report, or null when start may proceed. */
export function startRefusal(report: CheckReport): BadRequestError | null {
  const first = report.system_checks.checks.find((c) => c.status === 'failed');
  if (!first) return null;
  if (first.check_type === 'queue_suitability') {
    return new BadRequestError(first.message, { problematic_queue_count: Number(first.details?.problematic_queue_count ?? 0) });
  }
  if (first.check_type === 'eligible_queues') return new BadRequestError(first.message, { vhost: report.vhost });
  return new BadRequestError(first.message);
}

interface Shared {
  cluster: ClusterState;
  activity: ClusterSnapshotActivity;
}

/** Gathers (I/O, in parallel) then judges (pure). */
export async function assess(ctx: Context, vhost: string, options: AssessOptions, shared?: Shared): Promise<StartAssessment> {
  const [[snapshot, expiry], probe, activity] = await Promise.all([
    (shared
      ? gatherVhostState(ctx.mgmt, vhost).then((v): ClusterSnapshot => ({ ...shared.cluster, ...v }))
      : Promise.all([gatherClusterState(ctx.mgmt), gatherVhostState(ctx.mgmt, vhost)]).then(([c, v]): ClusterSnapshot => ({ ...c, ...v }))
    ).then(async (s) => [s, await gatherExpirySamples(ctx.mgmt, vhost, selectQueues(s.queues, options).candidates)] as const),
    probeRelaxedRedeclaration(ctx.amqp, ctx.mgmt, vhost),
    shared ? Promise.resolve(shared.activity) : snapshotActivity(ctx),
  ]);
  return evaluate(snapshot, probe, activity, options, ctx.config, expiry);
}

export type EvaluateConfig = Pick<
  Config,
  | 'memoryThreshold'
  | 'diskSafetyFactor'
  | 'diskMarginMb'
  | 'relaxedChecksAsWarning'
  | 'leaderBalanceRatio'
  | 'leaderBalanceMinQueues'
  | 'maxQueuesPerMigration'
  | 'concurrency'
>;

/** The whole verdict over one gathered picture: pure, unit-testable with in-memory fakes. */
export function evaluate(
  snapshot: ClusterSnapshot,
  probe: RelaxedProbeResult,
  activity: ClusterSnapshotActivity,
  options: AssessOptions,
  config: EvaluateConfig,
  /** What the queues' samples showed (null: not sampled; the check then judges queue TTLs only). */
  expiry: ExpirySamples | null = null,
): StartAssessment {
  const skip = options.skip_unsuitable_queues;
  const running = runningNodes(snapshot.nodes).map((n) => n.name);
  const selection = selectQueues(snapshot.queues, options);
  const candidates = selection.candidates;
  const issues = findQueueIssues(candidates, snapshot.policies, { allowMessageTtl: options.allow_message_ttl, maxQueues: config.maxQueuesPerMigration });
  const unsuitable = unsuitableQueueNames(issues);
  const issuesByQueue = new Map<string, QueueIssue[]>();
  for (const i of issues.filter((x) => x.severity === 'error')) issuesByQueue.set(i.queue, [...(issuesByQueue.get(i.queue) ?? []), i]);

  const toMigrate = skip ? candidates.filter((q) => !unsuitable.has(q.name)) : candidates;
  const skippedUnsuitable: NamedReason[] = skip
    ? candidates.filter((q) => unsuitable.has(q.name)).map((q) => ({ name: q.name, ...skipReason(issuesByQueue.get(q.name) ?? [])! }))
    : [];
  const skipped: NamedReason[] = [
    ...selection.notFound.map((name) => ({ name, reason: 'queue does not exist' })),
    ...selection.ineligible,
    ...skippedUnsuitable,
  ];

  const checks: SystemCheck[] = [
    checkShovelPlugin(snapshot.nodes),
    checkClusterHealth(snapshot.nodes),
    checkActiveAlarms(snapshot.nodes),
    checkMemoryUsage(snapshot.nodes, config.memoryThreshold),
    checkDiskSpace(snapshot.nodes, toMigrate, config.diskSafetyFactor, config.diskMarginMb),
    judgeRelaxedChecks(probe, {
      asWarning: config.relaxedChecksAsWarning,
      rabbitmqVersion: snapshot.rabbitmq_version,
      defaultQueueType: snapshot.vhost.default_queue_type ?? null,
    }),
    checkLeaderBalance(snapshot.queues.filter(isMirroredClassic), running, config.leaderBalanceRatio, config.leaderBalanceMinQueues),
    checkQueueSynchronization(candidates, skip),
    checkQueueSuitability(candidates, issues, skip),
    judgeExpiringMessages(toMigrate, expiry, { ...DEFAULT_MOVE_MODEL, concurrency: config.concurrency }),
    judgeSnapshotActivity(activity, running),
    checkEligibleQueues({
      toMigrate: toMigrate.length,
      candidates: candidates.length,
      skippedUnsuitable: skippedUnsuitable.length,
      requestedNames: options.queue_names,
      notFound: selection.notFound,
      ineligible: selection.ineligible,
    }),
  ];

  const total = candidates.length;
  const compatible = total - unsuitable.size;
  const report: CheckReport = {
    vhost: snapshot.vhost.name,
    skip_unsuitable_queues: skip,
    overall_ready: !checks.some((c) => c.status === 'failed'),
    queue_checks: {
      summary: {
        total_queues: total,
        unsuitable_queues: unsuitable.size,
        compatibility_percentage: total === 0 ? 100 : Math.floor((compatible * 100) / total),
        compatible_queues: compatible,
      },
      results: issues,
    },
    system_checks: { all_passed: checks.every((c) => c.status === 'passed'), checks },
  };
  return { report, toMigrate, skipped, issuesByQueue, snapshot };
}
