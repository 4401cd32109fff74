/**
 * The temporary least-privilege user a transfer's shovels log in to the TARGET with. A shovel's
 * `dest-uri` is a runtime parameter of the source vhost, readable by any policymaker of it: it
 * must never carry the target administrator's password. So each transfer creates on the target
 *   `qmig-shovel-<source cluster tag>-<transfer tag>`
 * with a random password, no tag (`impersonator` only if the caller's target user has it, so
 * messages whose user_id names another user move as before), and permissions on the transfer's
 * vhost only: configure and read on exactly the transferred queue names, write on the default
 * exchange (which the shovel publishes through). It is deleted when the transfer ends, also when
 * it is cancelled or fails. After a crash the user is left behind; its password existed only in
 * shovel definitions, which source housekeeping deletes once the transfer is no longer active
 * (transfer-housekeeping.ts), and the next transfer from this cluster to that target deletes the
 * leftover users of transfers that are no longer active (`deleteLeftoverShovelUsers`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { enc, type ManagementClient } from '../broker/management-client.js';
import { registerSecret } from '../redaction.js';
import { SHOVEL_USER_PREFIX } from '../broker/names.js';

/** Above this, the queue-name permission regex would be unwieldy: configure/read on the vhost instead. */
const MAX_PERMISSION_PATTERN = 16_384;

export interface ShovelUser {
  user: string;
  password: string;
}

const tag = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** The user name of `transferId` run by the cluster named `sourceCluster`. */
export function shovelUserName(sourceCluster: string, transferId: string, prefix = SHOVEL_USER_PREFIX): string {
  return `${prefix}${tag(sourceCluster, 8)}-${tag(transferId, 16)}`;
}

/**
 * Sets a new random password on an existing temporary user (a drain that must re-create a shovel
 * after every shovel that carried the old password is gone). Its tags are kept.
 */
export async function renewShovelUserPassword(target: ManagementClient, name: string, impersonator: boolean): Promise<ShovelUser> {
  const password = randomBytes(24).toString('base64url');
  registerSecret(password);
  await target.ok('PUT', `/users/${enc(name)}`, { password, tags: impersonator ? 'impersonator' : '' });
  return { user: name, password };
}

/** A regex (Erlang re / PCRE) matching exactly these names: every ASCII non-alphanumeric escaped. */
export function exactNamesPattern(names: string[]): string {
  const escaped = names.map((n) =>
    n.replace(/[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]/g, (c) => (c.charCodeAt(0) < 0x20 || c === '\x7f' ? `\\x{${c.charCodeAt(0).toString(16)}}` : `\\${c}`)),
  );
  return `^(${escaped.join('|')})$`;
}

export async function createShovelUser(target: ManagementClient, name: string, vhost: string, queues: string[], impersonator: boolean): Promise<ShovelUser> {
  const password = randomBytes(24).toString('base64url');
  registerSecret(password);
  await target.ok('PUT', `/users/${enc(name)}`, { password, tags: impersonator ? 'impersonator' : '' });
  let queuesPattern = exactNamesPattern(queues);
  if (queuesPattern.length > MAX_PERMISSION_PATTERN) queuesPattern = '.*';
  await target.setPermission(vhost, name, { configure: queuesPattern, write: '^amq\\.default$', read: queuesPattern });
  return { user: name, password };
}

/** Deletes the user (its connections are closed by the broker); false when it did not exist. */
export async function deleteShovelUser(target: ManagementClient, name: string): Promise<boolean> {
  return target.deleteIfExists(`/users/${enc(name)}`);
}

/**
 * Deletes this cluster's shovel users on the target whose transfer is not in `activeIds` (left by
 * a sidecar that died). Users of other source clusters (another tag) are not touched.
 */
export async function deleteLeftoverShovelUsers(target: ManagementClient, sourceCluster: string, activeIds: string[], current: string): Promise<string[]> {
  const ours = `${SHOVEL_USER_PREFIX}${tag(sourceCluster, 8)}-`;
  const keep = new Set([...activeIds.map((id) => shovelUserName(sourceCluster, id)), current]);
  const users = await target.ok<Array<{ name: string }>>('GET', '/users', undefined, { params: { columns: 'name' } });
  const leftovers = users.map((u) => u.name).filter((n) => n.startsWith(ours) && !keep.has(n));
  for (const name of leftovers) await deleteShovelUser(target, name);
  return leftovers;
}
