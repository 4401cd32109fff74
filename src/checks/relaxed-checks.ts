/**
 * relaxed_checks_setting: will clients that keep declaring a queue the classic way still work
 * once it is a quorum queue? Answered by a functional probe, not by reading a setting (3.10 has no
 * `quorum_queue.property_equivalence.relaxed_checks_on_redeclaration`; a node refuses to boot with
 * it): in the vhost, declare a throw-away quorum queue with a unique name, redeclare it over AMQP
 * as a client with classic arguments would (no x-queue-type), and see whether the broker accepts
 * it. An explicit `x-queue-type: classic` redeclaration is probed too and reported in the
 * details. The probe queue is always deleted.
 * On 3.10 the redeclaration is refused (406 PRECONDITION_FAILED) unless the vhost's default
 * queue type is quorum. QMIG_RELAXED_CHECKS_WARN_ONLY=true turns the failure into a warning
 * that does not block.
 */
import { randomBytes } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import type { AmqpPool } from '../broker/amqp.js';
import { amqpCode } from '../broker/amqp.js';
import type { ManagementClient } from '../broker/management-client.js';
import { logger } from '../logging.js';
import { failed, passed, warning, type SystemCheck } from './types.js';
import { describeError } from '../broker/error-description.js';
import { PROBE_PREFIX } from '../broker/names.js';

export interface RedeclareOutcome {
  accepted: boolean;
  code?: number;
  error?: string;
}

export interface RelaxedProbeResult {
  probe_queue: string;
  /** Declaring the probe quorum queue itself failed (no permission, limits, broker down…). */
  probe_error?: string;
  without_queue_type?: RedeclareOutcome;
  explicit_classic?: RedeclareOutcome;
  cleanup_error?: string;
}

export async function probeRelaxedRedeclaration(amqp: AmqpPool, mgmt: ManagementClient, vhost: string): Promise<RelaxedProbeResult> {
  const name = `${PROBE_PREFIX}${randomBytes(6).toString('hex')}`;
  const result: RelaxedProbeResult = { probe_queue: name };
  let conn: ChannelModel | null = null;
  let declared = false;
  try {
    conn = await amqp.openConnection(vhost, 'relaxed-checks probe');
    const c = conn;
    await onChannel(c, (ch) => ch.assertQueue(name, { durable: true, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'quorum' } }));
    declared = true;
    result.without_queue_type = await redeclare(c, name, {});
    result.explicit_classic = await redeclare(c, name, { 'x-queue-type': 'classic' });
  } catch (err) {
    result.probe_error = describeError(err);
  } finally {
    if (declared || conn) {
      try {
        if (conn) await onChannel(conn, (ch) => ch.deleteQueue(name));
        else await mgmt.deleteQueue(vhost, name);
      } catch (err) {
        // Fall back to the management API so the probe never leaves a queue behind.
        try {
          await mgmt.deleteQueue(vhost, name);
        } catch (err2) {
          result.cleanup_error = `${describeError(err)}; ${describeError(err2)}`;
          logger.warn('relaxed-checks probe queue could not be deleted', { vhost, queue: name, error: result.cleanup_error });
        }
      }
    }
    if (conn) await conn.close().catch(() => undefined);
  }
  return result;
}

async function onChannel<T>(conn: ChannelModel, fn: (ch: import('amqplib').Channel) => Promise<T>): Promise<T> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined); // a refused declare closes the channel; the rejection reports it
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => undefined);
  }
}

async function redeclare(conn: ChannelModel, name: string, args: Record<string, unknown>): Promise<RedeclareOutcome> {
  try {
    await onChannel(conn, (ch) => ch.assertQueue(name, { durable: true, autoDelete: false, exclusive: false, arguments: args }));
    return { accepted: true };
  } catch (err) {
    const code = amqpCode(err);
    if (code === undefined) throw err; // not a refusal: the probe itself failed
    return { accepted: false, code, error: describeError(err) };
  }
}

export interface RelaxedJudgeContext {
  asWarning: boolean;
  rabbitmqVersion: string | null;
  defaultQueueType: string | null;
}

export function judgeRelaxedChecks(r: RelaxedProbeResult, c: RelaxedJudgeContext): SystemCheck {
  const details: Record<string, unknown> = {
    probe_queue: r.probe_queue,
    rabbitmq_version: c.rabbitmqVersion,
    vhost_default_queue_type: c.defaultQueueType,
    redeclare_without_x_queue_type: r.without_queue_type ?? null,
    redeclare_with_x_queue_type_classic: r.explicit_classic ?? null,
    warn_only: c.asWarning,
  };
  if (r.cleanup_error) details.cleanup_error = r.cleanup_error;
  if (r.probe_error || !r.without_queue_type) {
    details.probe_error = r.probe_error ?? 'probe did not run';
    return failed('relaxed_checks_setting', `Could not run the redeclaration probe in this vhost with the service account: ${details.probe_error}`, details);
  }
  if (r.without_queue_type.accepted) {
    const why = c.defaultQueueType === 'quorum' ? ' (the vhost default queue type is quorum)' : '';
    return passed('relaxed_checks_setting', `Relaxed checks setting is enabled: a quorum queue redeclared without x-queue-type is accepted${why}`, details);
  }
  // The broker's words, with the probe's random name generalised so check and start say the same.
  const brokerSays = (r.without_queue_type.error ?? 'inequivalent arg x-queue-type').split(r.probe_queue).join('<queue>');
  const message =
    `Relaxed checks on redeclaration are not available (RabbitMQ ${c.rabbitmqVersion ?? 'unknown version'}): after migration, clients that redeclare a migrated queue ` +
    `with classic arguments (no x-queue-type) will get 406 PRECONDITION_FAILED ("${brokerSays}") and their channel closes. ` +
    'Update those clients to declare x-queue-type=quorum (or declare passively) before migrating, or set QMIG_RELAXED_CHECKS_WARN_ONLY=true to accept this.';
  return c.asWarning ? warning('relaxed_checks_setting', message, details) : failed('relaxed_checks_setting', message, details);
}
