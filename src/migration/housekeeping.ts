/**
 * Housekeeping on a schedule (node-cron, QMIG_HOUSEKEEPING_CRON), with exactly one active runner
 * per cluster: each tick every sidecar tries HOUSEKEEPING_LOCK (an exclusive queue) and only the
 * winner works; the others skip that tick. The runner
 *  1. resumes orphaned migrations (active record, migration lock free → its sidecar died), and
 *     arms timers for scheduled runs this sidecar has none for (src/migration/schedule.ts);
 *  2. lets clients back in from the fence vault (src/state/fence-vault.ts) wherever no sidecar
 *     runs the migration that saved them — a finished one whose restore did not go through, or
 *     one whose record was deleted or forged — and removes run markers of migrations that ended;
 *  3. prunes finished records older than QMIG_RETENTION_DAYS and stale interrupt flags;
 *  4. reports shovels and temporary queues of the engine that no record explains (it never
 *     deletes them: they may hold messages);
 *  5. deletes transfer shovels of transfers that are no longer active (they hold the password of a
 *     temporary target user; src/transfer/transfer-housekeeping.ts).
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Context } from '../context.js';
import { logger } from '../logging.js';
import { auditLog } from '../state/audit-log.js';
import { ClusterLock, LockHeldError } from '../state/cluster-lock.js';
import { acquireLock } from '../state/lock-guard.js';
import { timestamp, vhostsOf, type MigrationRecord } from '../state/records.js';
import { isActive } from './status.js';
import type { MigrationEngine } from './contract.js';
import { restoreFromVault } from './fence-restore.js';
import type { FenceState } from './client-fencing.js';
import { deleteStaleTransferShovels } from '../transfer/transfer-housekeeping.js';
import { TransferStore } from '../transfer/transfer-store.js';
import { HOUSEKEEPING_LOCK, INTERRUPT_PREFIX, MIGRATION_LOCK, PLAN_PROBE_VHOST_PREFIX, RUN_PREFIX, SHOVEL_PREFIX, TEMPORARY_PREFIX } from '../broker/names.js';

export interface Leftover {
  vhost: string;
  name: string;
}

export interface HousekeepingReport {
  /** False when another sidecar held the housekeeping lock (this tick did nothing). */
  ran: boolean;
  fencesRestored: string[];
  pruned: string[];
  unexplainedShovels: Leftover[];
  unexplainedTemporaryQueues: Leftover[];
  /** `vhost/name` of transfer shovels deleted because no active transfer explains them (src/transfer/transfer-housekeeping.ts). */
  transferShovelsDeleted: string[];
  errors: string[];
}

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD HH:MM:SS` (UTC) → epoch ms. */
function parseTimestamp(ts: string | null): number | null {
  if (!ts) return null;
  const ms = Date.parse(ts.replace(' ', 'T') + 'Z');
  return Number.isFinite(ms) ? ms : null;
}

/** Finished records whose end (or start) is older than the retention (pure). */
export function recordsToPrune(records: MigrationRecord[], retentionDays: number, now: Date): MigrationRecord[] {
  const limit = now.getTime() - retentionDays * DAY_MS;
  return records.filter((r) => {
    if (isActive(r) || r.status === 'scheduled') return false; // a scheduled run has not even opened
    const end = parseTimestamp(r.completed_at) ?? parseTimestamp(r.started_at);
    return end !== null && end < limit;
  });
}

export class Housekeeper {
  private task: ScheduledTask | null = null;
  private current: Promise<HousekeepingReport> | null = null;

  constructor(
    private readonly ctx: Context,
    private readonly engine: Pick<MigrationEngine, 'resumeOrphans' | 'armSchedules'>,
    /**
     * Run by EVERY sidecar at each tick, before the housekeeping lock (e.g. the blue-green drains'
     * resume: each sidecar tries the lock of every active drain). A failure is logged.
     */
    private readonly everyTick: Array<() => Promise<unknown>> = [],
  ) {}

  /** Schedules runOnce on QMIG_HOUSEKEEPING_CRON. */
  start(): void {
    if (this.task) return;
    this.task = cron.schedule(this.ctx.config.housekeepingCron, () => void this.runOnce().catch(() => undefined), {
      name: `qmig-housekeeping-${this.ctx.instanceId}`,
      noOverlap: true,
    });
  }

  /** Stops the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    const task = this.task;
    this.task = null;
    if (task) await task.destroy();
    await this.current?.catch(() => undefined);
  }

  runOnce(now: Date = new Date()): Promise<HousekeepingReport> {
    this.current ??= this.tick(now).finally(() => (this.current = null));
    return this.current;
  }

  private async tick(now: Date): Promise<HousekeepingReport> {
    const report: HousekeepingReport = {
      ran: false,
      fencesRestored: [],
      pruned: [],
      unexplainedShovels: [],
      unexplainedTemporaryQueues: [],
      transferShovelsDeleted: [],
      errors: [],
    };
    for (const hook of this.everyTick) {
      await hook().catch((err) => logger.error('housekeeping: a per-sidecar step failed', { error: (err as Error).message }));
    }
    let lock: ClusterLock;
    try {
      lock = await acquireLock(this.ctx, HOUSEKEEPING_LOCK);
    } catch (err) {
      if (!(err instanceof LockHeldError)) logger.warn('housekeeping skipped: cannot take its lock', { error: (err as Error).message });
      return report;
    }
    report.ran = true;
    const step = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        report.errors.push(`${name}: ${(err as Error).message}`);
        logger.error('housekeeping step failed', { step: name, error: (err as Error).message });
      }
    };
    try {
      await step('resume orphaned migrations', () => this.engine.resumeOrphans());
      await step('arm scheduled runs', async () => this.engine.armSchedules?.());
      let records: MigrationRecord[] = [];
      await step('list records', async () => {
        records = await this.ctx.store.listRecords();
      });
      await step('restore client access', async () => {
        report.fencesRestored = await this.restoreUnownedFences();
      });
      await step('prune', async () => {
        for (const r of recordsToPrune(records, this.ctx.config.retentionDays, now)) {
          await this.ctx.store.delete(r);
          report.pruned.push(r.id);
        }
        // A scheduled run's flag is its cancel, read when it would open.
        const keep = new Set(records.filter((r) => isActive(r) || r.status === 'scheduled').map((r) => r.id));
        const params = await this.ctx.mgmt.ok<Array<{ name: string }>>('GET', '/global-parameters', undefined, { params: { columns: 'name' } });
        for (const p of params) {
          if (p.name.startsWith(INTERRUPT_PREFIX) && !keep.has(p.name.slice(INTERRUPT_PREFIX.length))) await this.ctx.mgmt.deleteGlobalParameter(p.name);
        }
      });
      await step('delete stale transfer shovels', async () => {
        report.transferShovelsDeleted = await deleteStaleTransferShovels(this.ctx.mgmt, new TransferStore(this.ctx.mgmt, this.ctx.seal));
        if (report.transferShovelsDeleted.length > 0)
          logger.warn('housekeeping: deleted shovels of transfers that are no longer active', { shovels: report.transferShovelsDeleted });
      });
      await step('report leftovers', async () => {
        const remaining = records.filter((r) => !report.pruned.includes(r.id));
        const { shovels, queues } = await this.leftovers(remaining);
        report.unexplainedShovels = shovels;
        report.unexplainedTemporaryQueues = queues;
        if (shovels.length > 0 || queues.length > 0) {
          logger.warn('housekeeping: shovels or temporary queues that no migration record explains (left untouched; they may hold messages)', {
            shovels,
            temporary_queues: queues,
          });
        }
      });
      if (report.pruned.length > 0 || report.fencesRestored.length > 0) logger.info('housekeeping done', { ...report });
      return report;
    } finally {
      await lock.release();
    }
  }

  /**
   * Puts back the vault's saved permissions of every migration that no sidecar runs (its run
   * marker gone, or the migration lock free after resumeOrphans had its chance), then removes
   * run markers whose migration is not active any more. Returns the migrations restored.
   */
  private async restoreUnownedFences(): Promise<string[]> {
    const ctx = this.ctx;
    const who = `qmig:${ctx.instanceId}`;
    const entries = await ctx.vault.entries();
    const lockHeldNow = async () => (await ctx.mgmt.queue(ctx.config.stateVhost, MIGRATION_LOCK)) !== null;
    const restored: string[] = [];
    for (const id of [...new Set(entries.map((e) => e.migration_id))]) {
      const marker = await ctx.vault.runMarker(id);
      if (marker && (await lockHeldNow())) continue; // running (or just resumed)
      const vhosts = [...new Set(entries.filter((e) => e.migration_id === id).map((e) => e.vhost))];
      for (const vhost of vhosts) {
        const outcome = await restoreFromVault(ctx.mgmt, ctx.vault, id, vhost, {
          restored: (user) =>
            auditLog(ctx.config.auditLogFile).record({ action: 'restore_permission', migration_id: id, vhost, who, details: { user, by: 'housekeeping' } }),
        });
        const record = await ctx.store.loadRecord(id);
        const fence = record?.engine?.fence as FenceState | undefined;
        if (record && fence?.active && outcome.failed.length === 0) {
          fence.active = false;
          fence.restored_at = timestamp();
          await ctx.store.saveRecord(record);
        }
        if (record) for (const f of outcome.failed) record.notes.push(`permission of user '${f.user}' on '${vhost}' not restored: ${f.reason}`);
      }
      restored.push(id);
    }
    // Run markers of migrations that are not active (ended, or whose record is gone or refused).
    const queues = await ctx.mgmt.queues(ctx.config.stateVhost, ['name']);
    for (const q of queues) {
      if (!q.name.startsWith(RUN_PREFIX)) continue;
      const id = q.name.slice(RUN_PREFIX.length);
      const record = await ctx.store.loadRecord(id);
      if ((!record || !isActive(record)) && !(await lockHeldNow())) await ctx.vault.clearRunMarker(id);
    }
    if (restored.length > 0) logger.warn('housekeeping put back permissions saved by migrations that no sidecar runs', { migrations: restored });
    return restored;
  }

  /**
   * Engine shovels and temporary queues that no record explains. Explained: anything in the
   * vhost of an active migration; a temporary queue that a failed queue's record names.
   */
  private async leftovers(records: MigrationRecord[]): Promise<{ shovels: Leftover[]; queues: Leftover[] }> {
    const activeVhosts = new Set(records.filter(isActive).flatMap(vhostsOf));
    // A plan's calibration probe migrates in a vhost of its own, deleted when it ends.
    const probing = (vhost: string) => vhost.startsWith(PLAN_PROBE_VHOST_PREFIX);
    const named = new Set<string>();
    for (const r of records) {
      if (isActive(r) || r.status === 'completed') continue;
      for (const q of await this.ctx.store.loadQueues(r)) {
        if (typeof q.detail.temporary_queue === 'string' && q.status !== 'completed') named.add(`${q.vhost}\u0000${q.detail.temporary_queue}`);
      }
    }
    const params = await this.ctx.mgmt.shovelParameters();
    const shovels = params
      .filter((p) => p.name.startsWith(SHOVEL_PREFIX) && !activeVhosts.has(p.vhost) && !probing(p.vhost))
      .map((p) => ({ vhost: p.vhost, name: p.name }));
    const page = await this.ctx.mgmt.ok<{ items: Array<{ name: string; vhost: string }> }>('GET', '/queues', undefined, {
      params: { page: 1, page_size: 500, name: `^${TEMPORARY_PREFIX.replace(/\./g, '\\.')}`, use_regex: 'true', columns: 'name,vhost' },
    });
    const queues = (page.items ?? [])
      .filter((q) => !activeVhosts.has(q.vhost) && !probing(q.vhost) && !named.has(`${q.vhost}\u0000${q.name}`))
      .map((q) => ({ vhost: q.vhost, name: q.name }));
    return { shovels, queues };
  }
}
