/**
 * The migration plan (POST plan[/:vhost], `qmig plan`): exactly what a start with the same
 * options would do, changing nothing on the tenant's vhost.
 * - Selection: the start's own chain (assessment.ts `assess`: toMigrate / skipped) and the run's
 *   own execution order (queue-selection.ts `interleaveByNode`, as migration-run.ts applies it),
 *   through `runOrder` below, which the run's records are built from too.
 * - Per queue: messages, bytes, node, the arguments the quorum queue drops (argument-translation.ts)
 *   and the keys of its effective policy that no longer apply (mirroring keys, classic-only keys),
 *   its estimated seconds.
 * - Disk per node (disk-space.ts diskRequirement: every node holds a quorum member), the check's
 *   verdict (reported, never refused on), and the estimate with its range (estimate-model.ts)
 *   from the calibration (calibration-probe.ts) cached per sidecar for
 *   QMIG_PLAN_CALIBRATION_MAX_AGE_SECONDS; one probe at a time per sidecar.
 */
import type { BrokerQueue } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { assess, type StartAssessment } from '../checks/assessment.js';
import { availableBytes, diskRequirement } from '../checks/disk-space.js';
import { MIRRORING_KEYS } from '../checks/readiness.js';
import { interleaveByNode } from '../checks/queue-selection.js';
import type { NamedReason } from '../checks/queue-selection.js';
import { runningNodes } from '../checks/cluster-snapshot.js';
import type { MigrationOptions } from '../state/records.js';
import { translateArguments } from './argument-translation.js';
import { estimateRun, type Calibration } from './estimate-model.js';
import { runCalibrationProbe } from './calibration-probe.js';
import { fitsWindow, type FitVerdict } from './fit-window.js';
import { recordedEstimate, sumEstimates } from './start-estimate.js';
import { mapAtMost } from '../async/concurrency.js';
import { PLAN_PROBE_VHOST_PREFIX } from '../broker/names.js';
import { BrokerRequestError, VhostNotFoundError } from '../errors.js';

/** Policy keys a quorum queue ignores (3.10): classic mirroring and the classic-only storage keys. */
export const CLASSIC_ONLY_POLICY_KEYS = [...MIRRORING_KEYS, 'queue-mode', 'queue-master-locator', 'queue-version'];

export interface PlannedQueue {
  name: string;
  messages: number;
  bytes: number;
  node: string | null;
  /** Classic-only arguments the quorum queue is declared without. */
  dropped_arguments: string[];
  /** Arguments the quorum queue is declared with that the classic queue did not have. */
  added_arguments: Record<string, unknown>;
  /** The queue's effective policy (null: none). */
  policy: string | null;
  /** Keys of that policy that stop applying once the queue is a quorum queue. */
  dropped_policy_keys: string[];
  estimated_seconds: number;
}

export interface PlanEstimate {
  seconds: number;
  low_seconds: number;
  high_seconds: number;
  calibrated_at: string;
}

export interface MigrationPlan {
  vhost: string;
  options: MigrationOptions;
  queues: PlannedQueue[];
  skipped: NamedReason[];
  disk: {
    message_bytes: number;
    required_bytes: number;
    nodes: { node: string; required_bytes: number; available_bytes: number | null; fits: boolean | null }[];
  };
  check: { overall_ready: boolean; failed_checks: { check_type: string; message: string }[] };
  estimate: PlanEstimate & { concurrency: number; check_seconds: number };
  /** With a `deadline`: whether the central estimate fits between now and it (what start judges). */
  fit: FitVerdict | null;
  calibration: Calibration;
}

export interface MigrationPlanAll {
  /** `all`: POST plan/all or plan-many "all"; `many`: plan-many over a list of vhosts. */
  vhost: 'all' | 'many';
  /** Plans of the vhosts, in run order (plan/all and "all": those with queues to migrate or skip, by name). */
  vhosts: MigrationPlan[];
  /** The vhosts one after the other (one migration at a time per cluster; start-many runs them so). */
  estimate: { seconds: number; low_seconds: number; high_seconds: number; calibrated_at: string };
  /** With a deadline: does the whole estimate fit? */
  fit: FitVerdict | null;
}

/** The order a run takes its queues in: the start's selection interleaved by node (migration-run.ts). */
export function runOrder(toMigrate: BrokerQueue[]): BrokerQueue[] {
  return interleaveByNode(toMigrate, (q) => q.node ?? null);
}

function plannedQueue(q: BrokerQueue, seconds: number): PlannedQueue {
  const translated = translateArguments(q.arguments ?? {});
  const added: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(translated.arguments)) if (!(k in (q.arguments ?? {})) || (q.arguments ?? {})[k] !== v) added[k] = v;
  const def = q.effective_policy_definition ?? {};
  return {
    name: q.name,
    messages: q.messages ?? 0,
    bytes: q.message_bytes ?? 0,
    node: q.node ?? null,
    dropped_arguments: translated.dropped,
    added_arguments: added,
    policy: q.policy ?? null,
    dropped_policy_keys: Object.keys(def)
      .filter((k) => CLASSIC_ONLY_POLICY_KEYS.includes(k))
      .sort(),
    estimated_seconds: seconds,
  };
}

/** Pure: the plan over an assessment, a calibration and the measured check time. */
export function buildPlan(
  vhost: string,
  options: MigrationOptions,
  a: StartAssessment,
  cal: Calibration,
  config: { concurrency: number; diskSafetyFactor: number; diskMarginMb: number; shovelMinMessages: number },
  checkSeconds: number,
): MigrationPlan {
  const ordered = runOrder(a.toMigrate);
  const est = estimateRun(
    cal,
    ordered.map((q) => ({ messages: q.messages ?? 0, bytes: q.message_bytes ?? 0 })),
    config.concurrency,
    checkSeconds,
    config.shovelMinMessages,
  );
  const req = diskRequirement(a.toMigrate, config.diskSafetyFactor, config.diskMarginMb);
  return {
    vhost,
    options,
    queues: ordered.map((q, i) => plannedQueue(q, est.per_queue[i])),
    skipped: a.skipped,
    disk: {
      message_bytes: req.message_bytes,
      required_bytes: req.required_bytes,
      nodes: runningNodes(a.snapshot.nodes).map((n) => {
        const available = availableBytes(n);
        return {
          node: n.name,
          required_bytes: req.required_bytes,
          available_bytes: available,
          fits: available === null ? null : available >= req.required_bytes,
        };
      }),
    },
    check: {
      overall_ready: a.report.overall_ready,
      failed_checks: a.report.system_checks.checks.filter((c) => c.status === 'failed').map((c) => ({ check_type: c.check_type, message: c.message })),
    },
    estimate: {
      seconds: est.seconds,
      low_seconds: est.low_seconds,
      high_seconds: est.high_seconds,
      calibrated_at: cal.calibrated_at,
      concurrency: config.concurrency,
      check_seconds: Math.round(checkSeconds * 100) / 100,
    },
    // The window opens at not_before when the start is scheduled, else now.
    fit: options.deadline ? fitsWindow(est, options.not_before ? new Date(options.not_before) : new Date(), new Date(options.deadline)) : null,
    calibration: cal,
  };
}

/** The calibration of this sidecar: cached for max-age seconds, one probe at a time. */
export class Planner {
  private cached: Calibration | null = null;
  private probing: Promise<Calibration> | null = null;

  constructor(private readonly ctx: Context) {}

  /** The cached calibration when fresh enough, else null. */
  fresh(now = Date.now()): Calibration | null {
    const c = this.cached;
    if (!c || c.concurrency !== this.ctx.config.concurrency) return null;
    return now - Date.parse(c.calibrated_at) <= this.ctx.config.planCalibrationMaxAgeSeconds * 1000 ? c : null;
  }

  /** A fresh calibration, probing when none (or `recalibrate`); a probe in flight is shared. */
  async calibration(recalibrate = false): Promise<Calibration> {
    if (!recalibrate) {
      const c = this.fresh();
      if (c) return c;
    }
    this.probing ??= runCalibrationProbe(this.ctx, await this.measureRunOverhead())
      .then((c) => (this.cached = c))
      .finally(() => (this.probing = null));
    return this.probing;
  }

  /**
   * What a run costs outside its queues, timed here: its durable writes (run marker, record,
   * chunk, final record and chunk) and the reads it starts with (nodes, the vhost's queue list).
   */
  private async measureRunOverhead(): Promise<number> {
    const t0 = performance.now();
    const name = `qmig.probe.plan.overhead.${process.pid}`;
    for (let i = 0; i < 4; i++) await this.ctx.store.params.put(name, { i });
    await this.ctx.store.params.delete(name).catch(() => undefined);
    await this.ctx.mgmt.nodes();
    return (performance.now() - t0) / 1000;
  }

  /** The plan of a start with `options` on `vhost`. */
  async plan(vhost: string, options: MigrationOptions, recalibrate = false): Promise<MigrationPlan> {
    const t0 = performance.now();
    const a = await assess(this.ctx, vhost, options);
    const checkSeconds = (performance.now() - t0) / 1000;
    const cal = await this.calibration(recalibrate);
    return buildPlan(vhost, options, a, cal, this.ctx.config, checkSeconds);
  }

  /** Plans of every vhost (in `include`) with mirrored queues, by name; the probe runs once. */
  async planAll(options: MigrationOptions, include: (vhost: string) => boolean, recalibrate = false): Promise<MigrationPlanAll> {
    const cal = await this.calibration(recalibrate);
    const names = (await this.ctx.mgmt.vhosts())
      .map((v) => v.name)
      .filter((v) => include(v) && !v.startsWith(PLAN_PROBE_VHOST_PREFIX))
      .sort();
    return this.plansOf('all', names, options, cal, true);
  }

  /**
   * The plan of one run over `vhosts` in this order (POST start-many with the same body): each
   * vhost's plan, and the estimate of running them one after the other. `all`: only vhosts with
   * queues to migrate or skip (a vhost deleted meanwhile is left out), as start-many "all" does.
   */
  async planMany(vhosts: string[], all: boolean, options: MigrationOptions, recalibrate = false): Promise<MigrationPlanAll> {
    return this.plansOf(all ? 'all' : 'many', vhosts, options, await this.calibration(recalibrate), all);
  }

  private async plansOf(label: 'all' | 'many', names: string[], options: MigrationOptions, cal: Calibration, skipEmpty: boolean): Promise<MigrationPlanAll> {
    const plans = await mapAtMost(4, names, async (vhost) => {
      try {
        const t0 = performance.now();
        const a = await assess(this.ctx, vhost, options);
        if (skipEmpty && a.toMigrate.length === 0 && a.skipped.length === 0) return null;
        return buildPlan(vhost, options, a, cal, this.ctx.config, (performance.now() - t0) / 1000);
      } catch (err) {
        if (skipEmpty && (err instanceof VhostNotFoundError || (err instanceof BrokerRequestError && err.status === 404))) return null; // deleted meanwhile
        throw err;
      }
    });
    const vhosts = plans.filter((p): p is MigrationPlan => p !== null);
    const estimate = sumEstimates(vhosts.map(recordedEstimate), cal.calibrated_at);
    return {
      vhost: label,
      vhosts,
      estimate,
      // The whole run against the deadline (each vhost's own `fit` judges it alone).
      fit: options.deadline ? fitsWindow(estimate, options.not_before ? new Date(options.not_before) : new Date(), new Date(options.deadline)) : null,
    };
  }
}
