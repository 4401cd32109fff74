/**
 * Keeping a vhost's clients out while its queues are rebuilt (RabbitMQ 3.10, verified in
 * ../shared/broker/NOTES.md): every user's permission on THAT vhost is deleted — except the
 * sidecar's service account — which refuses their new connections to that vhost only, and the
 * vhost's open client connections are closed. Shovels keep working: they run on internal direct
 * connections (user "none"), which are never closed here, and need no user permission.
 * (A vhost connection limit of 0 would also stop the shovels; user limits would hit other vhosts.)
 *
 * The caller saves the FencePlan durably BEFORE calling `revoke`, so that whatever happens the
 * permissions can be put back by `restore`, also by another sidecar after a crash.
 */
import { BrokerRequestError } from '../errors.js';
import type { ManagementClient } from './management-client.js';

export interface SavedPermission {
  user: string;
  configure: string;
  write: string;
  read: string;
}

export interface FencePlan {
  vhost: string;
  /** Permissions that were (or are about to be) deleted, as they were. */
  permissions: SavedPermission[];
}

export interface FenceEvents {
  /** A returned promise is awaited (a test hook may hold the fence there). */
  revoked?(user: string): unknown;
  closed?(connection: string, user: string): void;
  /** A returned promise is awaited (a test hook may hold the restore there). */
  restored?(user: string): unknown;
}

/** The permissions to take away: everyone's on `vhost` except the service account's. */
export async function planFence(mgmt: ManagementClient, vhost: string, serviceUser: string): Promise<FencePlan> {
  const perms = await mgmt.vhostPermissions(vhost);
  return {
    vhost,
    permissions: perms
      .filter((p) => p.user !== serviceUser)
      .map((p) => ({ user: p.user, configure: p.configure, write: p.write, read: p.read }))
      .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)),
  };
}

/** Adds users that gained a permission since the plan was made (a resumed fence). */
export async function extendPlan(mgmt: ManagementClient, plan: FencePlan, serviceUser: string): Promise<FencePlan> {
  const now = await planFence(mgmt, plan.vhost, serviceUser);
  const known = new Set(plan.permissions.map((p) => p.user));
  return { vhost: plan.vhost, permissions: [...plan.permissions, ...now.permissions.filter((p) => !known.has(p.user))] };
}

/** Deletes the planned permissions (idempotent) and closes the vhost's client connections. */
export async function revoke(
  mgmt: ManagementClient,
  plan: FencePlan,
  serviceUser: string,
  reason: string,
  events: FenceEvents = {},
): Promise<{ closed: number }> {
  for (const p of plan.permissions) {
    if (await mgmt.deletePermission(plan.vhost, p.user)) await events.revoked?.(p.user);
  }
  return { closed: await closeClientConnections(mgmt, plan.vhost, serviceUser, reason, events) };
}

/** Closes every connection to `vhost` except internal (direct: shovels, federation) and the service account's. */
export async function closeClientConnections(
  mgmt: ManagementClient,
  vhost: string,
  serviceUser: string,
  reason: string,
  events: FenceEvents = {},
): Promise<number> {
  const conns = await mgmt.ok<Array<{ name: string; user: string; type?: string }>>('GET', `/vhosts/${encodeURIComponent(vhost)}/connections`, undefined, {
    params: { columns: 'name,user,type' },
  });
  let closed = 0;
  for (const c of conns) {
    if (c.type === 'direct' || c.user === serviceUser) continue;
    if (await mgmt.closeConnection(c.name, reason)) {
      closed++;
      events.closed?.(c.name, c.user);
    }
  }
  return closed;
}

export interface RestoreOutcome {
  restored: string[];
  /** Users that no longer exist (nothing to restore) or whose permission could not be written. */
  failed: Array<{ user: string; reason: string }>;
}

/** Puts every saved permission back as it was. Users deleted meanwhile are reported, not fatal. */
export async function restore(mgmt: ManagementClient, plan: FencePlan, events: FenceEvents = {}): Promise<RestoreOutcome> {
  const out: RestoreOutcome = { restored: [], failed: [] };
  for (const p of plan.permissions) {
    try {
      await mgmt.setPermission(plan.vhost, p.user, { configure: p.configure, write: p.write, read: p.read });
      out.restored.push(p.user);
      await events.restored?.(p.user);
    } catch (err) {
      if (err instanceof BrokerRequestError) out.failed.push({ user: p.user, reason: err.brokerReason });
      else throw err;
    }
  }
  return out;
}
