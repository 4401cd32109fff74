/**
 * Clients kept out of the migrated vhost for the length of a run (src/broker/client-fence.ts
 * does the broker side): their permissions saved in the fence vault first (where no tenant can
 * write, so that any sidecar can put them back), then revoked and their connections closed; the
 * connections are swept again every few seconds while the fence stands; at the end of the run
 * the permissions are put back from the vault. `record.engine.fence` shows the state.
 */
import { closeClientConnections, extendPlan, revoke, type FencePlan } from '../broker/client-fence.js';
import type { ManagementClient } from '../broker/management-client.js';
import type { Context } from '../context.js';
import type { Logger } from '../logging.js';
import type { AuditEntry } from '../state/audit-log.js';
import { timestamp, type MigrationRecord } from '../state/records.js';
import type { EngineHooks } from './engine-hooks.js';
import { restoreFromVault, saveToVault } from './fence-restore.js';
import { closeFencePeriod, openFencePeriod } from './downtime.js';
import type { MigrationStateWriter } from './state-writer.js';

/**
 * Client-fencing state shown in `record.engine.fence`. Informative only: the permissions put
 * back come from the fence vault (src/state/fence-vault.ts), never from this copy.
 */
export interface FenceState extends FencePlan {
  active: boolean;
  fenced_at: string;
  restored_at?: string;
  closed_connections?: number;
}

const FENCE_SWEEP_MS = 2000;
const REASON = 'qmig: queue migration in progress on this vhost';

export interface ClientFenceDeps {
  ctx: Context;
  record: MigrationRecord;
  /** The vhost this fence keeps clients out of (a run over several vhosts fences one at a time). */
  vhost: string;
  mgmt: ManagementClient;
  writer: MigrationStateWriter;
  log: Logger;
  resumed: boolean;
  hooks?: EngineHooks;
  audit(entry: Omit<AuditEntry, 'who' | 'migration_id' | 'vhost'>): void;
  /** The run ended or stopped taking steps: no more sweeping. */
  stopped(): boolean;
}

export class ClientFence {
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly d: ClientFenceDeps) {}

  async fence(): Promise<void> {
    const { ctx, record, mgmt } = this.d;
    if (!ctx.config.fenceClients) return;
    const serviceUser = ctx.config.user;
    const { vhost } = this.d;
    const stored = record.engine.fence as FenceState | undefined;
    const previous = stored?.vhost === vhost ? stored : undefined;
    // A resumed fence continues from what the vault saved (users already revoked), plus anyone
    // who gained a permission since; a new one starts from the vhost's permissions.
    const saved = this.d.resumed ? (await ctx.vault.entries(record.id)).filter((e) => e.vhost === vhost) : [];
    const base: FencePlan = { vhost, permissions: saved.map(({ user, configure, write, read }) => ({ user, configure, write, read })) };
    const plan = await extendPlan(mgmt, base, serviceUser);
    // Saved BEFORE anything changes, where no tenant can write, so that any sidecar can put it back.
    await saveToVault(ctx.vault, record.id, plan.vhost, plan.permissions);
    const state: FenceState = { ...plan, active: true, fenced_at: previous?.active ? previous.fenced_at : timestamp() };
    record.engine.fence = state;
    openFencePeriod(record, vhost);
    await this.d.writer.saveRecord();
    if (this.d.stopped()) return;
    const result = await revoke(mgmt, plan, serviceUser, REASON, {
      revoked: (user) => {
        this.d.audit({ action: 'revoke_permission', details: { user } });
        return this.d.hooks?.atPoint?.({ migrationId: record.id, point: 'fence_revoked', user });
      },
      closed: (connection, user) => this.d.audit({ action: 'close_connection', details: { connection, user } }),
    });
    state.closed_connections = (state.closed_connections ?? 0) + result.closed;
    await this.d.writer.saveRecord();
    this.startSweeping(state);
  }

  /**
   * Connections are listed from statistics, so one opened just before the fence may not be
   * listed yet (up to the broker's statistics interval): close the vhost's client connections
   * again every few seconds while the fence stands.
   */
  private startSweeping(state: FenceState): void {
    const sweep = async () => {
      if (!state.active || this.d.stopped()) return;
      const closed = await closeClientConnections(this.d.mgmt, this.d.vhost, this.d.ctx.config.user, REASON, {
        closed: (connection, user) => this.d.audit({ action: 'close_connection', details: { connection, user, late: true } }),
      }).catch(() => 0);
      state.closed_connections = (state.closed_connections ?? 0) + closed;
    };
    this.sweeper = setInterval(() => void sweep(), FENCE_SWEEP_MS);
    this.sweeper.unref();
  }

  stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** Lets clients back in (from the vault); what could not be put back goes into the record's notes. */
  async unfence(): Promise<void> {
    this.stopSweeping();
    const { record } = this.d;
    const state = record.engine.fence as FenceState | undefined;
    if (!state?.active || state.vhost !== this.d.vhost) return;
    try {
      const outcome = await restoreFromVault(this.d.mgmt, this.d.ctx.vault, record.id, this.d.vhost, {
        restored: (user) => {
          this.d.audit({ action: 'restore_permission', details: { user } });
          return this.d.hooks?.atPoint?.({ migrationId: record.id, point: 'permission_restored', user });
        },
      });
      for (const f of outcome.failed) record.notes.push(`permission of user '${f.user}' on '${state.vhost}' not restored: ${f.reason}`);
      state.active = false;
      state.restored_at = timestamp();
      closeFencePeriod(record, this.d.vhost);
    } catch (err) {
      record.notes.push(`client access not restored yet (housekeeping retries): ${(err as Error).message}`);
      this.d.log.error('cannot restore client access', { error: (err as Error).message });
    }
  }
}
