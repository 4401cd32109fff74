/**
 * Helpers of the trust tests (test/security/trust-*.test.ts): hostile non-administrator users
 * created per test (deleted after it), the management API as such a user, and what the
 * sidecars report about state they refused.
 */
import { randomBytes } from 'node:crypto';
import { enc, ManagementClient, type Permission } from '../../src/broker/management-client.js';
import { stateRejected } from '../../src/metrics/metrics.js';
import type { StateKind } from '../../src/state/integrity-report.js';
import { admin, cluster } from '../support/cluster.js';

export type After = { after(fn: () => unknown): void };
export type Perms = Pick<Permission, 'configure' | 'write' | 'read'>;
export const FULL: Perms = { configure: '.*', write: '.*', read: '.*' };

export interface Tenant {
  user: string;
  password: string;
  /** The management API with this user's credentials. */
  mgmt: ManagementClient;
}

/** A user with `tags` and the given permissions per vhost; deleted after the test. */
export async function tenant(t: After, tags: string[], perms: Record<string, Perms> = {}): Promise<Tenant> {
  const user = `qmig-tenant-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const mgmt = admin();
  await mgmt.ok('PUT', `/users/${enc(user)}`, { password, tags: tags.join(',') });
  for (const [vhost, p] of Object.entries(perms)) await mgmt.setPermission(vhost, user, p);
  t.after(() => mgmt.deleteIfExists(`/users/${enc(user)}`).catch(() => undefined));
  return { user, password, mgmt: new ManagementClient({ baseUrl: cluster.managementUrls[0], user, password }) };
}

/** `user`'s permission on `vhost` (null: none), read as the administrator. */
export function permissionOf(vhost: string, user: string): Promise<Permission | null> {
  return admin().permission(vhost, user);
}

/** Writes a global parameter AS the tenant; the broker must accept it (that is the threat). */
export async function tenantWrites(who: Tenant, name: string, value: unknown): Promise<void> {
  const res = await who.mgmt.request('PUT', `/global-parameters/${enc(name)}`, { name, value });
  if (res.status >= 300) throw new Error(`the broker refused ${who.user}'s write of ${name}: ${res.status} (the threat model assumes 3.10 accepts it)`);
}

/** Removes global parameters after the test (forged ones included). */
export function cleanupParameters(t: After, names: () => string[]): void {
  t.after(async () => {
    for (const n of names())
      await admin()
        .deleteGlobalParameter(n)
        .catch(() => undefined);
  });
}

/** qmig_state_rejected_total{kind} of this process. */
export async function rejectedCount(kind: StateKind): Promise<number> {
  return (await stateRejected.get()).values.filter((v) => v.labels.kind === kind).reduce((n, v) => n + v.value, 0);
}
