/**
 * The start body from the options `qmig start` and `qmig plan` share (queue, batch size and
 * order, tolerance, skip-unsuitable, allow-message-ttl, deadline): one reading, so a plan is asked
 * with exactly the body the start will send.
 */
import { flag, listValue, parseBatchSize, parseChoice, parseNumber, stringValue, type Values } from './args.js';

export function startOptionsBody(v: Values): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const queues = listValue(v, 'queue');
  if (queues.length > 0) body.queue_names = queues;
  const batchSize = stringValue(v, 'batch-size');
  if (batchSize !== undefined) body.batch_size = parseBatchSize(batchSize);
  const batchOrder = stringValue(v, 'batch-order');
  if (batchOrder !== undefined) body.batch_order = parseChoice('batch-order', batchOrder, ['smallest_first', 'largest_first'] as const);
  const tolerance = stringValue(v, 'tolerance');
  if (tolerance !== undefined) body.tolerance = parseNumber('tolerance', tolerance, 0, 100);
  if (flag(v, 'skip-unsuitable')) body.skip_unsuitable_queues = true;
  if (flag(v, 'allow-message-ttl')) body.allow_message_ttl = true;
  const deadline = stringValue(v, 'deadline');
  if (deadline !== undefined) body.deadline = deadline;
  return body;
}
