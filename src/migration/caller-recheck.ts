/**
 * A scheduled run opens with its caller's rights as the broker sees them at the window, not as
 * they were when it was scheduled: the stored user (its password is never stored) must still
 * exist and still pass the authorization of start (src/http/auth.ts requireChanger: administrator,
 * or policymaker with configure, write and read '.*' on the vhost). Read with the service
 * credentials. Throws ForbiddenError with the reason.
 */
import { tagsOf, type Whoami } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { ForbiddenError } from '../errors.js';
import { requireChanger } from './changer-rights.js';
import type { Caller } from './contract.js';

export async function recheckCaller(ctx: Context, user: string, vhost: string): Promise<Caller> {
  const found = await ctx.mgmt.getOrNull<Whoami>(`/users/${encodeURIComponent(user)}`);
  if (!found) throw new ForbiddenError(`user '${user}' who scheduled this run no longer exists`);
  const caller: Caller = { user, tags: tagsOf(found) };
  await requireChanger(ctx, caller, vhost);
  return caller;
}
