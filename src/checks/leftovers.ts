/**
 * System check `leftovers` (POST check/:vhost and check/all; not part of the start chain, like
 * state_integrity): fails when the vhost holds what an ended migration, rollback or repair left
 * half done — a temporary queue (`qmig.tmp.*`) while no run is active in the vhost, or a failed
 * queue whose own queue is gone — and names the one call that finishes it forward
 * (`qmig repair ID`) or undoes it (`qmig undo ID`). Decided from what the broker shows: a failed
 * queue whose messages were gathered back under its own name is intact and not listed.
 * Gather (I/O) then judge (pure).
 */
import { TEMPORARY_PREFIX, temporaryQueueName } from '../broker/names.js';
import type { Context } from '../context.js';
import { isActiveStatus, kindOf, vhostsOf, type MigrationKind, type MigrationRecord } from '../state/records.js';
import { failed, passed, type SystemCheck } from './types.js';

/** Ended runs of the vhost with failed queues whose queues are read (newest first). */
const RECORDS_READ = 10;

export interface FailedQueueFact {
  queue: string;
  migration_id: string;
  kind: MigrationKind;
  /** The migration a rollback/repair followed up. */
  of: string | null;
}

export interface LeftoverFacts {
  /** A migration, rollback or repair is running in the vhost (its temporary queues are in use). */
  active: boolean;
  /** Names of the vhost's queues. */
  queues: Set<string>;
  temporary: Array<{ name: string; messages: number | null }>;
  /** Failed queues of the vhost's ended runs, newest run first. */
  failedQueues: FailedQueueFact[];
}

export async function gatherLeftovers(ctx: Context, vhost: string): Promise<LeftoverFacts> {
  const [queues, records] = await Promise.all([ctx.mgmt.queues(vhost, ['name', 'messages']), ctx.store.listRecords()]);
  const own = records.filter((r) => vhostsOf(r).includes(vhost));
  const withFailures = own
    .filter((r) => !isActiveStatus(r.status) && r.failed_queues > 0)
    .sort((a, b) => (a.started_at < b.started_at ? 1 : -1))
    .slice(0, RECORDS_READ);
  const failedQueues: FailedQueueFact[] = [];
  for (const r of withFailures) {
    const qs = await ctx.store.loadQueues(r).catch(() => []);
    for (const q of qs)
      if (q.status === 'failed' && q.vhost === vhost) failedQueues.push({ queue: q.name, migration_id: r.id, kind: kindOf(r), of: followedUp(r) });
  }
  return {
    active: own.some((r) => isActiveStatus(r.status)),
    queues: new Set(queues.map((q) => q.name)),
    temporary: queues
      .filter((q) => q.name.startsWith(TEMPORARY_PREFIX))
      .map((q) => ({ name: q.name, messages: typeof q.messages === 'number' ? q.messages : null })),
    failedQueues,
  };
}

const followedUp = (r: MigrationRecord): string | null => r.rollback_of ?? r.repair_of ?? null;

/** The call that finishes (or undoes) a failed queue of this run. */
function fixFor(f: FailedQueueFact): string {
  const migration = f.kind === 'migration' ? f.migration_id : (f.of ?? f.migration_id);
  if (f.kind === 'rollback') return `qmig undo ${migration} (roll back again)`;
  return `qmig repair ${migration} (finish forward) or qmig undo ${migration} (undo)`;
}

export function judgeLeftovers(f: LeftoverFacts): SystemCheck {
  if (f.active) return passed('leftovers', 'A run is active in this vhost: its temporary queues are in use');
  // The newest run that failed a queue names the fix for it.
  const byQueue = new Map<string, FailedQueueFact>();
  for (const q of f.failedQueues) if (!byQueue.has(q.queue)) byQueue.set(q.queue, q);
  const problems: string[] = [];
  const items: Array<Record<string, unknown>> = [];
  const named = new Set<string>();
  for (const [queue, fact] of byQueue) {
    const temporary = temporaryQueueName(queue);
    const hasTemporary = f.queues.has(temporary);
    if (f.queues.has(queue) && !hasTemporary) continue; // gathered back under its own name: intact
    if (hasTemporary) named.add(temporary);
    const state = f.queues.has(queue) ? `split between '${queue}' and '${temporary}'` : hasTemporary ? `only in '${temporary}'` : `'${queue}' is gone`;
    problems.push(`${queue}: ${state}; fix: ${fixFor(fact)}`);
    items.push({ queue, state, migration_id: fact.migration_id, fix: fixFor(fact) });
  }
  for (const t of f.temporary) {
    if (named.has(t.name)) continue;
    const fix = `no failed run names it: move its ${t.messages ?? 'unknown number of'} message(s) where they belong, then delete it`;
    problems.push(`${t.name}: temporary queue left behind; ${fix}`);
    items.push({ queue: t.name, state: 'temporary queue left behind', messages: t.messages, fix });
  }
  if (problems.length === 0) return passed('leftovers', 'No half-done queue: no temporary queue, no failed queue without its own queue');
  return failed(
    'leftovers',
    `${problems.length} half-done queue(s): ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}`,
    { leftovers: items.slice(0, 100), count: problems.length },
  );
}
