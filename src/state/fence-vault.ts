/**
 * The fence vault: what the sidecars must be able to put back, kept where a non-administrator
 * can neither write nor delete — durable queues in QMIG_STATE_VHOST, a vhost on which only the
 * service account has permissions (verified by src/state/state-vhost.ts), their content sealed
 * in a queue argument (src/state/state-seal.ts):
 *   qmig.run.<migration id>                 the run marker: this migration is running (created
 *                                           before its record, deleted after its final status).
 *                                           Only a migration with a marker is ever resumed, so
 *                                           an old sealed record replayed as active is not.
 *   qmig.fence.<migration id>.<user hash>   one saved permission, created BEFORE it is revoked,
 *                                           deleted once it is restored. Restores read only these.
 * A policymaker who rewrites or deletes the global-parameter records therefore cannot add a
 * permission to a restore, nor make one disappear: housekeeping restores every entry whose
 * migration no sidecar runs.
 */
import type { ManagementClient } from '../broker/management-client.js';
import type { SavedPermission } from '../broker/client-fence.js';
import { reportRejected } from './integrity-report.js';
import type { StateSeal } from './state-seal.js';
import { FENCE_PREFIX, runMarkerName, fenceEntryName } from '../broker/names.js';

const SEAL_ARGUMENT = 'x-qmig-sealed';

export interface RunMarker {
  migration_id: string;
  vhost: string;
}

export interface VaultPermission extends SavedPermission {
  migration_id: string;
  vhost: string;
}

export class FenceVault {
  constructor(
    private readonly mgmt: ManagementClient,
    private readonly seal: StateSeal,
    readonly vhost: string,
  ) {}

  /** Idempotent (the same content seals to the same argument). */
  async markRunning(marker: RunMarker): Promise<void> {
    await this.put(runMarkerName(marker.migration_id), marker);
  }

  /** The verified marker of `id`, or null (absent, or refused and reported). */
  async runMarker(id: string): Promise<RunMarker | null> {
    const q = await this.mgmt.queue(this.vhost, runMarkerName(id));
    if (!q) return null;
    const m = this.open<RunMarker>('run_marker', q.name, q.arguments);
    return m && m.migration_id === id ? m : null;
  }

  async clearRunMarker(id: string): Promise<void> {
    await this.mgmt.deleteQueue(this.vhost, runMarkerName(id));
  }

  /** Saves one permission before it is revoked. */
  async save(entry: VaultPermission): Promise<void> {
    await this.put(fenceEntryName(entry.migration_id, entry.user), entry);
  }

  async remove(migrationId: string, user: string): Promise<void> {
    await this.mgmt.deleteQueue(this.vhost, fenceEntryName(migrationId, user));
  }

  /** Every verified saved permission (of one migration when `migrationId` is given). */
  async entries(migrationId?: string): Promise<VaultPermission[]> {
    const queues = await this.mgmt.queues(this.vhost, ['name', 'arguments']);
    const out: VaultPermission[] = [];
    for (const q of queues) {
      if (!q.name.startsWith(FENCE_PREFIX)) continue;
      const e = this.open<VaultPermission>('fence_vault', q.name, q.arguments);
      // The name binds the entry to its migration and user (a copy under another name fails the seal).
      if (!e || q.name !== fenceEntryName(e.migration_id, e.user)) continue;
      if (migrationId === undefined || e.migration_id === migrationId) out.push(e);
    }
    return out.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  }

  private async put(name: string, value: unknown): Promise<void> {
    const sealed = JSON.stringify(this.seal.seal(name, value));
    await this.mgmt.declareQueue(this.vhost, name, { durable: true, auto_delete: false, arguments: { [SEAL_ARGUMENT]: sealed } });
  }

  private open<T>(kind: 'run_marker' | 'fence_vault', name: string, args: Record<string, unknown> | undefined): T | null {
    const raw = args?.[SEAL_ARGUMENT];
    let stored: unknown = raw;
    try {
      if (typeof raw === 'string') stored = JSON.parse(raw);
    } catch {
      /* refused below */
    }
    const opened = this.seal.open<T>(name, stored);
    if (opened.ok) return opened.value;
    reportRejected(kind, name, opened.reason, raw);
    return null;
  }
}
