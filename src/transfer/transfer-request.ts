/**
 * `POST /api/queue-migration/xfer`: the body, validated into a typed request (pure, no broker).
 * Strict on purpose — a transfer moves production messages to another cluster:
 * - unknown fields, wrong types, empty strings → 400 naming the field;
 * - exactly one selection of `queue_names`, `pattern`, `everything: true`; none → 400 telling the
 *   caller to say `everything: true` if that is what they mean (never a silent "all");
 * - `target` must be an http(s) URL without credentials in it (they go in target_user/target_password);
 * - the target password is kept only in the request object; it is never logged or stored.
 *
 * Also here: which queues of the vhost a selection picks (`selectTransferQueues`), with the reason
 * each picked queue that cannot be moved is skipped.
 *
 * A `pattern` is a caller's regular expression run by the sidecar over every queue name: it is
 * compiled and matched with RE2JS (re2js, a linear-time engine), never with the backtracking
 * RegExp, so a pattern like `^(a+)+$` cannot stall the sidecar (catastrophic backtracking).
 * RE2 syntax is the usual one without backreferences and lookaround; those are refused with 400.
 */
import { RE2JS } from 're2js';
import type { BrokerQueue } from '../broker/management-client.js';
import { registerSecret } from '../redaction.js';
import { BadRequestError } from '../errors.js';
import type { TransferSelection } from './transfer-record.js';

export const MAX_REASON_LENGTH = 1000;
export const MAX_QUEUES_PER_TRANSFER = 1000;
const MAX_PATTERN_LENGTH = 1000;

/** The compiled pattern (linear-time matching); BadRequestError naming what RE2 refuses. */
export function compilePattern(pattern: string): RE2JS {
  try {
    return RE2JS.compile(pattern);
  } catch (err) {
    const why = String((err as Error).message ?? err).replace(/^error parsing regexp: /, '');
    throw new BadRequestError(`pattern is not a valid regular expression for RE2 (matched in linear time: no backreferences or lookaround): ${why}`);
  }
}
/** RabbitMQ's limit on queue names, in bytes. */
const MAX_QUEUE_NAME_BYTES = 255;

const FIELDS = ['target', 'target_user', 'target_password', 'reason', 'vhost', 'queue_names', 'pattern', 'everything', 'remove_source_queue'] as const;

export interface TransferRequest {
  /** Normalised management URL of the target (no trailing slash, no credentials). */
  target: string;
  targetUser: string;
  /** Never logged, never stored in a record. */
  targetPassword: string;
  reason: string;
  vhost: string;
  selection: TransferSelection;
  removeSourceQueue: boolean;
}

function nonEmptyString(body: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined) {
    if (required) throw new BadRequestError(`${field} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new BadRequestError(`${field} must be a string`);
  if (v.trim() === '') throw new BadRequestError(`${field} must not be empty`);
  return v;
}

/** The target URL, normalised; BadRequestError when it is not a plain http(s) URL. */
export function parseTargetUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new BadRequestError(
      `target must be an http(s) URL of the target's management API or qmig sidecar, e.g. http://10.0.0.1:15672; got "${raw.slice(0, 200)}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadRequestError(`target must use http or https, got "${url.protocol.replace(':', '')}"`);
  }
  if (url.username || url.password) {
    throw new BadRequestError('target must not contain credentials; give them in target_user and target_password');
  }
  if (url.search || url.hash) throw new BadRequestError('target must not have a query string or fragment');
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function parseSelection(body: Record<string, unknown>): TransferSelection {
  const given = (['queue_names', 'pattern', 'everything'] as const).filter((f) => body[f] !== undefined);
  if (given.length === 0) {
    throw new BadRequestError(
      'no queue selection: give exactly one of queue_names (exact names), pattern (a regular expression on the queue name) or everything: true — to transfer every queue of the vhost, say so with "everything": true',
    );
  }
  if (given.length > 1) throw new BadRequestError(`give exactly one of queue_names, pattern, everything; got ${given.join(' and ')}`);
  const field = given[0];
  if (field === 'everything') {
    if (body.everything !== true) {
      throw new BadRequestError('everything must be true when given (leave it out and use queue_names or pattern to select fewer queues)');
    }
    return { everything: true };
  }
  if (field === 'pattern') {
    const pattern = nonEmptyString(body, 'pattern', true)!;
    if (pattern.length > MAX_PATTERN_LENGTH) throw new BadRequestError(`pattern must be at most ${MAX_PATTERN_LENGTH} characters`);
    compilePattern(pattern);
    return { pattern };
  }
  const names = body.queue_names;
  if (!Array.isArray(names)) throw new BadRequestError('queue_names must be an array of queue names');
  if (names.length === 0) throw new BadRequestError('queue_names must not be empty (use everything: true to transfer every queue of the vhost)');
  if (names.length > MAX_QUEUES_PER_TRANSFER) throw new BadRequestError(`queue_names must have at most ${MAX_QUEUES_PER_TRANSFER} names`);
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n === '') throw new BadRequestError(`queue_names[${i}] must be a non-empty string`);
    if (Buffer.byteLength(n, 'utf8') > MAX_QUEUE_NAME_BYTES) throw new BadRequestError(`queue_names[${i}] is longer than ${MAX_QUEUE_NAME_BYTES} bytes`);
  });
  return { queue_names: [...new Set(names as string[])] };
}

export function parseTransferRequest(body: Record<string, unknown>): TransferRequest {
  const unknown = Object.keys(body).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new BadRequestError(`unknown field '${unknown[0]}'`);

  const target = parseTargetUrl(nonEmptyString(body, 'target', true)!);
  const targetUser = nonEmptyString(body, 'target_user', true)!;
  if (body.target_password === undefined) throw new BadRequestError('target_password is required');
  if (typeof body.target_password !== 'string' || body.target_password === '') throw new BadRequestError('target_password must be a non-empty string');
  const targetPassword = body.target_password;
  registerSecret(targetPassword); // never in a log line or an error, whatever carries it

  const reason = nonEmptyString(body, 'reason', true)!.trim();
  if (reason.length > MAX_REASON_LENGTH) throw new BadRequestError(`reason must be at most ${MAX_REASON_LENGTH} characters, got ${reason.length}`);

  let vhost = '/';
  if (body.vhost !== undefined) {
    if (typeof body.vhost !== 'string' || body.vhost === '') throw new BadRequestError('vhost must be a non-empty string');
    // An HTTP client would normalise these away in /api/vhosts/<vhost> and act on another path.
    if (body.vhost === '.' || body.vhost === '..') throw new BadRequestError(`vhost '${body.vhost}' cannot be addressed through the management API`);
    vhost = body.vhost;
  }

  const selection = parseSelection(body);

  let removeSourceQueue = false;
  if (body.remove_source_queue !== undefined) {
    if (typeof body.remove_source_queue !== 'boolean') throw new BadRequestError('remove_source_queue must be true or false');
    removeSourceQueue = body.remove_source_queue;
  }

  return { target, targetUser, targetPassword, reason, vhost, selection, removeSourceQueue };
}

// --- which queues ---------------------------------------------------------------------------

export interface SkippedQueue {
  name: string;
  reason: string;
}

export interface TransferQueueSelection {
  selected: BrokerQueue[];
  skipped: SkippedQueue[];
}

/** Why a queue cannot be moved by a transfer, or null when it can. */
export function whyNotTransferable(q: BrokerQueue): string | null {
  if (q.exclusive) return 'exclusive queue: it belongs to one connection and cannot be moved';
  if (q.type === 'stream' || q.arguments?.['x-queue-type'] === 'stream') return 'streams cannot be moved with a shovel';
  if (q.auto_delete) return 'auto-delete queue: the broker would delete it (with any message left) when the shovel stops';
  if (q.name.startsWith('amq.')) return "queue names starting with 'amq.' are reserved and cannot be declared on the target";
  return null;
}

export function selectTransferQueues(queues: BrokerQueue[], selection: TransferSelection): TransferQueueSelection {
  const selected: BrokerQueue[] = [];
  const skipped: SkippedQueue[] = [];
  const consider = (q: BrokerQueue) => {
    const why = whyNotTransferable(q);
    if (why) skipped.push({ name: q.name, reason: why });
    else selected.push(q);
  };
  if ('queue_names' in selection) {
    const byName = new Map(queues.map((q) => [q.name, q]));
    for (const name of selection.queue_names) {
      const q = byName.get(name);
      if (q) consider(q);
      else skipped.push({ name, reason: 'queue does not exist in the vhost' });
    }
  } else if ('pattern' in selection) {
    const re = compilePattern(selection.pattern);
    for (const q of queues) if (re.matcher(q.name).find()) consider(q);
  } else {
    for (const q of queues) consider(q);
  }
  return { selected, skipped };
}

/** How the selection reads in messages ("queue_names [a, b]", "pattern /x/", "everything"). */
export function describeSelection(selection: TransferSelection): string {
  if ('queue_names' in selection) return `queue_names [${selection.queue_names.slice(0, 10).join(', ')}${selection.queue_names.length > 10 ? ', …' : ''}]`;
  if ('pattern' in selection) return `pattern /${selection.pattern}/`;
  return 'everything';
}
