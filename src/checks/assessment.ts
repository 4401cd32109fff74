/**
 * ONE validation chain for `check` and `start` (issue 4 fills this in). `check` answers the
 * report; `start` refuses with the spec's 400 for exactly the reasons the report shows.
 * STUB: selects candidates and reports no system checks yet.
 */
import type { Context } from '../context.js';
import { BadRequestError, VhostNotFoundError } from '../errors.js';
import type { BrokerQueue } from '../broker/management-client.js';
import { selectQueues, type NamedReason } from '../migration/planner.js';
import type { MigrationOptions } from '../state/records.js';

export type CheckStatus = 'passed' | 'failed' | 'warning';

export interface SystemCheck {
  check_type: string;
  status: CheckStatus;
  message: string;
  /** The numbers behind the verdict (required/available MB, masters per node, …). */
  details?: Record<string, unknown>;
}

export interface QueueIssue {
  queue: string;
  type: string;
  reason: string;
  severity: 'error' | 'warning';
}

export interface CheckReport {
  vhost: string;
  skip_unsuitable_queues: boolean;
  overall_ready: boolean;
  queue_checks: {
    summary: { total_queues: number; unsuitable_queues: number; compatibility_percentage: number; compatible_queues: number };
    results: QueueIssue[];
  };
  system_checks: { all_passed: boolean; checks: SystemCheck[] };
}

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
}

/** POST check/:vhost. Throws VhostNotFoundError for an unknown vhost. */
export async function runCheck(ctx: Context, vhost: string, options: CheckOptions): Promise<CheckReport> {
  return (await assess(ctx, vhost, { ...options, queue_names: null, batch_size: 'all', batch_order: 'smallest_first' })).report;
}

/** POST check/all: one report per vhost. */
export async function runCheckAll(ctx: Context, options: CheckOptions): Promise<{ vhost: 'all'; overall_ready: boolean; vhosts: CheckReport[] }> {
  const vhosts = await ctx.mgmt.vhosts();
  const reports = [];
  for (const v of vhosts) reports.push(await runCheck(ctx, v.name, options));
  return { vhost: 'all', overall_ready: reports.every((r) => r.overall_ready), vhosts: reports };
}

/** Inside start: the same chain plus start's refusals; throws BadRequestError with the spec's messages. */
export async function assessStart(ctx: Context, vhost: string, options: MigrationOptions): Promise<StartAssessment> {
  const a = await assess(ctx, vhost, options);
  if (a.toMigrate.length === 0) {
    throw new BadRequestError('No eligible queues found for migration', { vhost });
  }
  return a;
}

async function assess(ctx: Context, vhost: string, options: Pick<MigrationOptions, 'queue_names' | 'batch_size' | 'batch_order' | 'skip_unsuitable_queues' | 'allow_message_ttl'>): Promise<StartAssessment> {
  if (!(await ctx.mgmt.vhost(vhost))) throw new VhostNotFoundError(vhost);
  const queues = await ctx.mgmt.queues(vhost);
  const selection = selectQueues(queues, options);
  const skipped = [...selection.notFound.map((name) => ({ name, reason: 'queue does not exist' })), ...selection.ineligible];
  const report: CheckReport = {
    vhost,
    skip_unsuitable_queues: options.skip_unsuitable_queues,
    overall_ready: true,
    queue_checks: {
      summary: { total_queues: selection.candidates.length, unsuitable_queues: 0, compatibility_percentage: 100, compatible_queues: selection.candidates.length },
      results: [],
    },
    system_checks: { all_passed: true, checks: [] },
  };
  return { report, toMigrate: selection.candidates, skipped };
}
