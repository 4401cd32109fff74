/**
 * Cluster locks taken the way the sidecars take them: in QMIG_STATE_VHOST, and never left to
 * anyone but a sidecar. When a lock queue is held, its holder's connection is looked up
 * (`owner_pid_details` of the exclusive queue → the connection's user); a holder that is not
 * the service account is a squatter: its connection is closed, the squat reported, and the lock
 * taken. (With the state vhost reserved to the service account, src/state/state-vhost.ts, nobody
 * else can declare there at all; this is the second line.)
 *
 * The state vhost itself can disappear: a client that deletes every vhost but the default one
 * (the plugin's own test clean-up does) deletes it too — the plugin keeps no such vhost, so its
 * clients do not spare it. The migration records are global parameters and survive; the locks and
 * the fence vault are queues of that vhost and go with it. A lock that cannot be taken because the
 * vhost is gone creates it again (as at start-up: permissions for the service account only) and
 * tries once more, instead of refusing every start with 503 until the sidecar is restarted.
 */
import { enc } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { logger } from '../logging.js';
import { BrokerUnavailableError } from '../errors.js';
import { ClusterLock, LockHeldError } from './cluster-lock.js';
import { ensureStateVhost } from './state-vhost.js';
import { sleep } from '../async/concurrency.js';

/** Closes the lock's holding connection when it is not the service account's; true if it did. */
export async function evictSquatter(ctx: Context, name: string): Promise<boolean> {
  const q = await ctx.mgmt.getOrNull<{ owner_pid_details?: { name?: string } }>(`/queues/${enc(ctx.config.stateVhost)}/${enc(name)}`, {
    params: { columns: 'name,owner_pid_details' },
  });
  const connection = q?.owner_pid_details?.name;
  if (!connection) return false;
  const conn = await ctx.mgmt.getOrNull<{ user?: string }>(`/connections/${enc(connection)}`);
  if (!conn || conn.user === undefined || conn.user === ctx.config.user) return false;
  logger.warn('a cluster lock was held by a connection that is not a sidecar: closed', { lock: name, vhost: ctx.config.stateVhost, user: conn.user });
  await ctx.mgmt.closeConnection(connection, 'qmig: only the qmig sidecars may hold qmig locks');
  return true;
}

/** ClusterLock.acquire in the state vhost, creating the vhost again when it was deleted. */
async function acquireInStateVhost(ctx: Context, name: string): Promise<ClusterLock> {
  try {
    return await ClusterLock.acquire(ctx.amqp, ctx.config.stateVhost, name);
  } catch (err) {
    // The broker refuses a connection to a missing vhost with a bare connection.close.
    if (!(err instanceof BrokerUnavailableError) || (await ctx.mgmt.vhost(ctx.config.stateVhost).catch(() => true))) throw err;
  }
  logger.warn('the state vhost was deleted (its locks and fence vault with it): creating it again', { vhost: ctx.config.stateVhost });
  await ensureStateVhost(ctx.mgmt, ctx.config.stateVhost, ctx.config.user);
  return ClusterLock.acquire(ctx.amqp, ctx.config.stateVhost, name);
}

/** Takes the lock (evicting a squatter once), or throws LockHeldError when a sidecar holds it. */
export async function acquireLock(ctx: Context, name: string): Promise<ClusterLock> {
  try {
    return await acquireInStateVhost(ctx, name);
  } catch (err) {
    if (!(err instanceof LockHeldError) || !(await evictSquatter(ctx, name).catch(() => false))) throw err;
  }
  // The broker drops an exclusive queue when its connection closes: a moment after the close.
  for (let attempt = 1; ; attempt++) {
    try {
      return await acquireInStateVhost(ctx, name);
    } catch (err) {
      if (!(err instanceof LockHeldError) || attempt >= 10) throw err;
      await sleep(200);
    }
  }
}

/** True when a sidecar holds the lock (a squatter is evicted, then the lock is free). */
export async function lockHeld(ctx: Context, name: string): Promise<boolean> {
  try {
    const lock = await acquireLock(ctx, name);
    await lock.release();
    return false;
  } catch (err) {
    if (err instanceof LockHeldError) return true;
    throw err;
  }
}
