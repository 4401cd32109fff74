/**
 * One line, for records, reasons and logs, saying what went wrong with a broker call: the only
 * error describer. A management API refusal names the call and the broker's reason; an AMQP
 * channel or connection closed by the server gives the broker's own message (amqplib wraps it as
 * `... with message "<reason>"`); anything else its message. Capped, so that a broker that answers
 * with a page of HTML cannot bloat a record.
 */
import { BrokerRequestError } from '../errors.js';

const MAX_LENGTH = 500;

export function describeError(err: unknown): string {
  if (err instanceof BrokerRequestError) return `broker refused ${err.method} ${err.path} (${err.status}): ${err.brokerReason}`.slice(0, MAX_LENGTH);
  const message = String((err as Error)?.message ?? err);
  const quoted = /with message "([^"]+)"/.exec(message);
  return (quoted ? quoted[1] : message).slice(0, MAX_LENGTH);
}
