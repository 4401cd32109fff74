/**
 * Every name qmig gives to something in the broker: global parameters, queues, shovels, users.
 * One place, so that a prefix the engine uses and a prefix a check or housekeeping looks for can
 * never drift apart, and an operator can see at a glance what qmig may create.
 *
 * Global runtime parameters (sealed, src/state/state-seal.ts):
 *   qmig.migration.<id>, qmig.queues.<id>.<n>   a migration's record and its queue chunks;
 *   qmig.interrupt.<id>                          an interrupt request;
 *   qmig.xfer.<id>, qmig.xfer-cancel.<id>        a transfer's record and its cancel request;
 *   qmig.bluegreen.<id>                          a blue-green drain's record (its target admin
 *                                                password AES-GCM encrypted, state/secret-box.ts);
 *   qmig.bluegreen-cancel.<id>, qmig.bluegreen-cutover.<id>   a drain's cancel / cut-over request.
 * Queues in QMIG_STATE_VHOST (default `qmig.state`):
 *   qmig.lock.*                                  cluster-wide locks (exclusive queues), among them
 *                                                qmig.lock.bluegreen.<id> (the drain's monitor) and
 *                                                qmig.lock.bluegreen-vhost.<hash> (a drain's start);
 *   qmig.run.<id>, qmig.fence.<id>.<user hash>   the fence vault (src/state/fence-vault.ts).
 * Queues and shovels in a migrated vhost:
 *   qmig.tmp.<queue>                             a queue's temporary quorum queue;
 *   qmig.shovel.<queue>.<direction>              a queue's move shovels;
 *   qmig.probe.relaxed-checks.<random>           the relaxed-checks probe, alive for a moment.
 * A vhost of its own, `qmig.probe.plan.<random>`: the plan's calibration probe (its mirrored
 * queues, temporary queues and shovels), deleted when the probe ends; its checkpoints are the
 * sealed global parameters `qmig.probe.plan.<random>.<n>`.
 * On a transfer's target: shovels `qmig-xfer-…`, users `qmig-shovel-…`.
 * A blue-green drain: shovels `qmig-bg-…` in the drained vhost (continuous, until cut-over or
 * cancel), user `qmig-drain-…` on the target.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_STATE_VHOST = 'qmig.state';

/** Every global parameter qmig writes starts with this. */
export const STATE_PARAMETER_PREFIX = 'qmig.';
export const RECORD_PREFIX = 'qmig.migration.';
export const CHUNK_PREFIX = 'qmig.queues.';
export const INTERRUPT_PREFIX = 'qmig.interrupt.';
export const TRANSFER_RECORD_PREFIX = 'qmig.xfer.';
export const CANCEL_PREFIX = 'qmig.xfer-cancel.';
export const BLUEGREEN_RECORD_PREFIX = 'qmig.bluegreen.';
export const BLUEGREEN_CANCEL_PREFIX = 'qmig.bluegreen-cancel.';
export const BLUEGREEN_CUTOVER_PREFIX = 'qmig.bluegreen-cutover.';
export const BLUEGREEN_LOCK_PREFIX = 'qmig.lock.bluegreen.';
export const BLUEGREEN_VHOST_LOCK_PREFIX = 'qmig.lock.bluegreen-vhost.';

export const MIGRATION_LOCK = 'qmig.lock.migration';
export const HOUSEKEEPING_LOCK = 'qmig.lock.housekeeping';
export const TRANSFER_LOCK = 'qmig.lock.transfer';
export const RUN_PREFIX = 'qmig.run.';
export const FENCE_PREFIX = 'qmig.fence.';

export const TEMPORARY_PREFIX = 'qmig.tmp.';
export const SHOVEL_PREFIX = 'qmig.shovel.';
export const PROBE_PREFIX = 'qmig.probe.relaxed-checks.';
/** The plan's calibration probe vhost (and the prefix of its checkpoint parameters). */
export const PLAN_PROBE_VHOST_PREFIX = 'qmig.probe.plan.';
/** Routing keys of the idle definition that takes over an orphaned shovel (broker/shovel-leftovers.ts). */
export const IDLE_KEY_PREFIX = 'qmig.idle.';

export const TRANSFER_SHOVEL_PREFIX = 'qmig-xfer-';
export const SHOVEL_USER_PREFIX = 'qmig-shovel-';
/** A drain's shovels (in the drained vhost) and its temporary user on the target. */
export const DRAIN_SHOVEL_PREFIX = 'qmig-bg-';
export const DRAIN_USER_PREFIX = 'qmig-drain-';

/** Queues qmig itself declares: never selected, judged or counted by a migration. */
export const INTERNAL_QUEUE_PREFIXES = ['qmig.lock.', TEMPORARY_PREFIX, 'qmig.probe.', RUN_PREFIX, FENCE_PREFIX] as const;

export function isInternalQueue(name: string): boolean {
  return INTERNAL_QUEUE_PREFIXES.some((p) => name.startsWith(p));
}

const MAX_NAME_BYTES = 255;

export const recordParameter = (id: string) => `${RECORD_PREFIX}${id}`;
export const chunkParameter = (id: string, chunk: number) => `${CHUNK_PREFIX}${id}.${chunk}`;
export const interruptParameter = (id: string) => `${INTERRUPT_PREFIX}${id}`;
export const transferParameter = (id: string) => `${TRANSFER_RECORD_PREFIX}${id}`;
export const cancelParameter = (id: string) => `${CANCEL_PREFIX}${id}`;
export const drainParameter = (id: string) => `${BLUEGREEN_RECORD_PREFIX}${id}`;
export const drainCancelParameter = (id: string) => `${BLUEGREEN_CANCEL_PREFIX}${id}`;
export const drainCutoverParameter = (id: string) => `${BLUEGREEN_CUTOVER_PREFIX}${id}`;
export const drainLockName = (id: string) => `${BLUEGREEN_LOCK_PREFIX}${id}`;
/** Held for the moment of a start: one start per vhost at a time, whichever sidecar takes it. */
export const drainVhostLockName = (vhost: string) => `${BLUEGREEN_VHOST_LOCK_PREFIX}${createHash('sha256').update(vhost, 'utf8').digest('hex').slice(0, 32)}`;
export const runMarkerName = (id: string) => `${RUN_PREFIX}${id}`;
export const fenceEntryName = (id: string, user: string) => `${FENCE_PREFIX}${id}.${createHash('sha256').update(user).digest('hex').slice(0, 16)}`;

/** Deterministic temporary queue name (hashed when the plain name would pass 255 bytes). */
export function temporaryQueueName(queue: string): string {
  const plain = TEMPORARY_PREFIX + queue;
  if (Buffer.byteLength(plain, 'utf8') <= MAX_NAME_BYTES) return plain;
  return TEMPORARY_PREFIX + createHash('sha256').update(queue, 'utf8').digest('hex');
}

export type MoveDirection = 'to-temporary' | 'to-quorum' | 'back';

export function shovelName(queue: string, direction: MoveDirection): string {
  return `${SHOVEL_PREFIX}${queue}.${direction}`;
}

/** A transfer's shovel: unique, recognisable, and within the 255-byte limit of parameter names. */
export function transferShovelName(transferId: string, queueIndex: number, round: number): string {
  return `${TRANSFER_SHOVEL_PREFIX}${transferId.slice(-24)}-${queueIndex}-${round}`;
}

/** A drain's shovel of its queue number `queueIndex` (unique per drain, within 255 bytes). */
export function drainShovelName(drainId: string, queueIndex: number): string {
  return `${DRAIN_SHOVEL_PREFIX}${drainId.slice(-24)}-${queueIndex}`;
}
