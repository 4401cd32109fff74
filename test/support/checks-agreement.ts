/**
 * The invariant every check scenario asserts on the real cluster: `check` and `start`'s
 * validation (assessStart) agree — overall_ready is true exactly when assessStart does not throw,
 * and a refusal's reason is the message of a check the report shows as failed. Also polling
 * helpers for the management API's sampled statistics.
 */
import assert from 'node:assert/strict';
import { assessStart, runCheck, type CheckOptions, type CheckReport, type StartAssessment } from '../../src/checks/assessment.js';
import type { BrokerQueue } from '../../src/broker/management-client.js';
import type { Context } from '../../src/context.js';
import { BadRequestError } from '../../src/errors.js';
import type { MigrationOptions } from '../../src/state/records.js';
import { admin } from './cluster.js';
import { assertSchema } from './schemas.js';

export function startOptions(o: CheckOptions, extra: Partial<MigrationOptions> = {}): MigrationOptions {
  return {
    skip_unsuitable_queues: o.skip_unsuitable_queues,
    allow_message_ttl: o.allow_message_ttl,
    tolerance: null,
    batch_size: 'all',
    batch_order: 'smallest_first',
    queue_names: null,
    set_default_queue_type: null,
    ...extra,
  };
}

export interface Agreement {
  report: CheckReport;
  refusal: BadRequestError | null;
  assessment: StartAssessment | null;
}

export async function checkAndStart(ctx: Context, vhost: string, options: Partial<CheckOptions> = {}): Promise<Agreement> {
  const o: CheckOptions = { skip_unsuitable_queues: false, allow_message_ttl: false, ...options };
  const report = await runCheck(ctx, vhost, o);
  assertSchema('check-response', report);
  let refusal: BadRequestError | null = null;
  let assessment: StartAssessment | null = null;
  try {
    assessment = await assessStart(ctx, vhost, startOptions(o));
  } catch (err) {
    if (!(err instanceof BadRequestError)) throw err;
    refusal = err;
  }
  const failed = report.system_checks.checks.filter((c) => c.status === 'failed');
  assert.equal(
    report.overall_ready,
    refusal === null,
    `check says overall_ready=${report.overall_ready} but start ${refusal ? `refused: ${refusal.reason}` : 'would proceed'}; failed: ${failed.map((c) => c.check_type).join(', ')}`,
  );
  if (refusal) {
    assertSchema('error-response', refusal.body());
    assert.ok(
      failed.some((c) => c.message === refusal!.reason),
      `start's reason "${refusal.reason}" is not the message of a failed check (${failed.map((c) => c.message).join(' / ')})`,
    );
  }
  return { report, refusal, assessment };
}

export function checkOf(report: CheckReport, type: string) {
  const c = report.system_checks.checks.find((x) => x.check_type === type);
  assert.ok(c, `no ${type} check in the report`);
  return c;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Waits until the management API shows every queue of `names` and `ok` holds for each. */
export function waitForQueues(vhost: string, names: string[], ok: (q: BrokerQueue) => boolean = () => true): Promise<BrokerQueue[]> {
  return waitFor(`queues ${names.join(', ')} in ${vhost}`, async () => {
    const qs = await admin().queues(vhost);
    const found = names.map((n) => qs.find((q) => q.name === n));
    return found.every((q) => q && ok(q)) ? (found as BrokerQueue[]) : null;
  });
}

export const mirroredNow = (q: BrokerQueue) => !!q.effective_policy_definition && 'ha-mode' in q.effective_policy_definition;
