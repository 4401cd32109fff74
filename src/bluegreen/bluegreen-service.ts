/**
 * Blue-green, definitions first: the plan (read the source vhost's definitions, transform them,
 * diff them against the target vhost — writes nothing) and its apply (refuse on any conflict,
 * else create the vhost on the target if absent and declare only the `create` objects, with an
 * audit record carrying the operator's reason).
 *
 * The target is validated exactly as for a transfer (transfer/target-cluster.ts connectTarget:
 * reachable, credentials accepted, an administrator there, not this very cluster, with
 * permissions on the target vhost when it exists).
 */
import type { Context } from '../context.js';
import { DefinitionsConflictError, VhostNotFoundError } from '../errors.js';
import { logger } from '../logging.js';
import { auditLog, type AuditEntry } from '../state/audit-log.js';
import { connectTarget, type TargetCluster } from '../transfer/target-cluster.js';
import { ensureTargetVhost } from '../transfer/topology-copy.js';
import type { BlueGreenRequest } from './bluegreen-request.js';
import type { VhostDefinitions } from './definitions.js';
import { conflictsOf, diffCounts, diffDefinitions, toCreate, type DefinitionsDiff } from './definitions-diff.js';
import { declareDefinitions, readVhostDefinitions, type CreatedNames } from './definitions-io.js';
import { transformDefinitions, type NotTransferable, type PolicyChange, type PolicyShift, type QueueConversion } from './definitions-transform.js';

export interface BlueGreenPlan {
  vhost: string;
  target: string;
  target_cluster_name: string;
  target_vhost_exists: boolean;
  /** What the target vhost gets (normal form). */
  definitions: VhostDefinitions;
  queue_conversions: QueueConversion[];
  policy_changes: PolicyChange[];
  policy_shifts: PolicyShift[];
  not_transferable: NotTransferable[];
  diff: DefinitionsDiff;
  counts: ReturnType<typeof diffCounts>;
}

export interface AppliedDefinitions {
  vhost: string;
  target: string;
  vhost_created: boolean;
  created: CreatedNames;
  counts: { created: number; same: number };
  not_transferable: NotTransferable[];
}

export interface BlueGreenServiceOptions {
  audit?: (entry: AuditEntry) => unknown;
  /** How the target is reached (default: connectTarget). */
  connect?: typeof connectTarget;
}

export class BlueGreenService {
  private readonly audit: (entry: AuditEntry) => unknown;
  private readonly connect: typeof connectTarget;

  constructor(
    private readonly ctx: Context,
    options: BlueGreenServiceOptions = {},
  ) {
    const log = auditLog(ctx.config.auditLogFile);
    this.audit = options.audit ?? ((entry) => log.record(entry));
    this.connect = options.connect ?? connectTarget;
  }

  private async planWith(request: BlueGreenRequest): Promise<{ plan: BlueGreenPlan; target: TargetCluster }> {
    const { vhost } = request;
    const source = await readVhostDefinitions(this.ctx.mgmt, vhost);
    if (!source) throw new VhostNotFoundError(vhost);
    const live = await this.ctx.mgmt.queues(vhost, ['name', 'exclusive']);
    const target = await this.connect(this.ctx, request);
    const transformed = transformDefinitions(source, live);
    const existing = await readVhostDefinitions(target.mgmt, vhost);
    const diff = diffDefinitions(transformed.definitions, existing);
    const plan: BlueGreenPlan = {
      vhost,
      target: target.url,
      target_cluster_name: target.identity.clusterName,
      target_vhost_exists: existing !== null,
      definitions: transformed.definitions,
      queue_conversions: transformed.queue_conversions,
      policy_changes: transformed.policy_changes,
      policy_shifts: transformed.policy_shifts,
      not_transferable: transformed.not_transferable,
      diff,
      counts: diffCounts(diff),
    };
    return { plan, target };
  }

  /** The plan: nothing is written, on either cluster. */
  async plan(request: BlueGreenRequest): Promise<BlueGreenPlan> {
    const { plan } = await this.planWith(request);
    logger.info('bluegreen: definitions planned', { vhost: plan.vhost, target: plan.target, counts: plan.counts.total });
    return plan;
  }

  /** The apply: 409 definitions_conflict (nothing written) on any conflict; else the `create` objects. */
  async applyDefinitions(request: BlueGreenRequest, reason: string, who: string): Promise<AppliedDefinitions> {
    const { result, target } = await this.applyWith(request, reason, who);
    await target.close().catch(() => undefined);
    return result;
  }

  /**
   * The apply, answering also the plan and the validated target (a drain's start goes on with
   * both: drain-service.ts). The caller closes the target.
   */
  async applyWith(request: BlueGreenRequest, reason: string, who: string): Promise<{ plan: BlueGreenPlan; target: TargetCluster; result: AppliedDefinitions }> {
    const { plan, target } = await this.planWith(request);
    const conflicts = conflictsOf(plan.diff);
    if (conflicts.length > 0) {
      logger.warn('bluegreen: definitions not applied: conflicts on the target', { vhost: plan.vhost, target: plan.target, conflicts: conflicts.length, who });
      throw new DefinitionsConflictError(plan.vhost, conflicts);
    }
    const vhostNote = plan.target_vhost_exists ? null : await ensureTargetVhost(this.ctx.mgmt, target.mgmt, request.targetUser, plan.vhost);
    const created = await declareDefinitions(target.mgmt, plan.vhost, toCreate(plan.definitions, plan.diff));
    const result: AppliedDefinitions = {
      vhost: plan.vhost,
      target: plan.target,
      vhost_created: vhostNote !== null,
      created,
      counts: { created: Object.values(created).reduce((n, names) => n + names.length, 0), same: plan.counts.total.same },
      not_transferable: plan.not_transferable,
    };
    this.audit({
      action: 'bluegreen_definitions_applied',
      vhost: plan.vhost,
      who,
      details: {
        target: plan.target,
        target_cluster_name: plan.target_cluster_name,
        reason,
        vhost_created: result.vhost_created,
        created: Object.fromEntries(Object.entries(created).map(([k, names]) => [k, names.length])),
        same: result.counts.same,
        queues_converted_to_quorum: plan.queue_conversions.length,
        not_transferable: plan.not_transferable.length,
      },
    });
    return { plan, target, result };
  }
}
