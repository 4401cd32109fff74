/**
 * Who may change a vhost through qmig (the README's authorization table): the rule of every
 * changing route (src/http/auth.ts re-exports it), and of a scheduled run when it opens
 * (caller-recheck.ts), so both judge alike.
 */
import type { Permission } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { BrokerError, BrokerRequestError, ForbiddenError } from '../errors.js';
import type { Caller } from './contract.js';
import { vhostsOf, type MigrationRecord } from '../state/records.js';

export const hasTag = (caller: Caller, ...tags: string[]) => caller.tags.some((t) => tags.includes(t));

/** First gate of changing routes (before the vhost is known): administrator or policymaker. */
export function requireChangerTag(caller: Caller): void {
  if (!hasTag(caller, 'administrator', 'policymaker')) {
    throw new ForbiddenError(`user '${caller.user}' needs the administrator tag, or policymaker with configure, write and read permissions '.*' on the vhost`);
  }
}

const FULL = '.*';

/**
 * Changing routes on `vhost`: administrator, or policymaker whose configure, write and read
 * permissions there are each exactly `.*` (covering every resource: a policymaker that could not
 * delete and redeclare every queue by hand may not have qmig do it). 403 also when the vhost
 * does not exist: call this BEFORE looking the vhost up.
 */
export async function requireChanger(ctx: Context, caller: Caller, vhost: string): Promise<void> {
  requireChangerTag(caller);
  if (hasTag(caller, 'administrator')) return;
  let permission: Permission | null;
  try {
    permission = await ctx.mgmt.permission(vhost, caller.user);
  } catch (err) {
    if (err instanceof BrokerRequestError) throw new BrokerError(`cannot read permissions of '${caller.user}' on vhost '${vhost}': ${err.brokerReason}`);
    throw err;
  }
  const full = !!permission && [permission.configure, permission.write, permission.read].every((p) => p === FULL);
  if (!full) {
    throw new ForbiddenError(`user '${caller.user}' (policymaker) needs configure, write and read permissions '.*' on vhost '${vhost}'`);
  }
}

/** A run (interrupt, rollback, repair) may be changed only by a caller who may change each of its vhosts. */
export async function requireRunChanger(ctx: Context, caller: Caller, r: Pick<MigrationRecord, 'vhost' | 'vhosts'>): Promise<void> {
  for (const vhost of vhostsOf(r)) await requireChanger(ctx, caller, vhost);
}
