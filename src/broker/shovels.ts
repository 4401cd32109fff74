/**
 * Moving every message of one queue into another queue of the same vhost with a dynamic shovel
 * (`ack-mode: on-confirm`, `src-delete-after: never`), and knowing quickly and exactly when it is
 * done. RabbitMQ 3.10 gives shovels no progress counters, so completion is read from exact counts
 * (AMQP passive declare): the source holds no ready message and the destination holds everything
 * that was in both queues at the start. Polling starts at 25 ms and backs off to 250 ms; there is
 * no fixed stability wait. The shovel is then deleted (which hands unacknowledged messages back to
 * the source) and the counts are read again; stragglers are moved by another round.
 *
 * Traps handled: the destination must exist beforehand (a shovel would create a classic queue);
 * a shovel that stays `starting` (unreachable, refused) fails after `startTimeoutMs`; a move that
 * runs past `timeoutMs` fails. The shovel parameter is always deleted before this returns or
 * throws — except when the caller aborts (lock lost): the shovel is then left for the sidecar that
 * takes over, which deletes it.
 */
import { recordShovelError, shovelErrorReason } from '../metrics/metrics.js';
import type { Channel } from 'amqplib';
import { AMQP_NOT_FOUND, amqpCode, type AmqpPool } from './amqp.js';
import { confirmedCount } from './confirmed-count.js';
import { enc, type ManagementClient } from './management-client.js';
import type { Pace } from './pace.js';

export interface MoveSpec {
  vhost: string;
  /** Shovel parameter name. */
  name: string;
  source: string;
  destination: string;
  startTimeoutMs: number;
  timeoutMs: number;
  /** Called with messages that arrived in the destination since the start. */
  onProgress?: (moved: number) => void;
  /** Called once the shovel parameter exists (test hooks, audit). */
  onShovelCreated?: () => void | Promise<void>;
  /** True when the caller lost the right to continue; the move stops without cleaning up. */
  shouldAbort?: () => boolean;
  /** How long the destination may stop growing, with the source empty, before the move is considered done short. */
  settleMs?: number;
  /** Most rounds (a round = one shovel) before giving up on stragglers. */
  maxRounds?: number;
}

export interface MoveResult {
  sourceCount: number;
  destinationCount: number;
  /** Messages in the destination at the start (resume) and at the end. */
  destinationBefore: number;
  rounds: number;
  durationMs: number;
}

export class MoveError extends Error {
  constructor(message: string, readonly sourceCount: number | null, readonly destinationCount: number | null) {
    super(message);
    this.name = 'MoveError';
  }
}

export class MoveAbortedError extends Error {
  constructor() {
    super('move aborted: this sidecar no longer owns the migration');
    this.name = 'MoveAbortedError';
  }
}

const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 250;
const STATE_CHECK_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prefetch tuned to the queue size: small queues need little, large ones gain ≈10 % at 5000. */
export function prefetchFor(messages: number): number {
  return Math.min(Math.max(Math.ceil(messages / 10), 100), 5000);
}

/** `amqp:///<vhost>` (an empty path would be vhost "/"). */
export function localUri(vhost: string): string {
  return `amqp:///${enc(vhost)}`;
}

export function shovelDefinition(vhost: string, source: string, destination: string, prefetch: number): Record<string, unknown> {
  return {
    'src-uri': localUri(vhost),
    'src-queue': source,
    'dest-uri': localUri(vhost),
    'dest-queue': destination,
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
    'src-prefetch-count': prefetch,
  };
}

/**
 * Exact counts (passive declare) on one channel kept for the whole move: polling every 25 ms
 * through a fresh channel each time would make the broker start and stop a channel per poll.
 * A refused declare closes the channel; the next count opens another.
 */
export class QueueCounter {
  private channel: Promise<Channel> | null = null;

  constructor(private readonly amqp: AmqpPool, private readonly vhost: string) {}

  private open(): Promise<Channel> {
    if (!this.channel) {
      const opening = this.amqp.connection(this.vhost).then(async (conn) => {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.channel === opening) this.channel = null;
        });
        return ch;
      });
      opening.catch(() => {
        if (this.channel === opening) this.channel = null;
      });
      this.channel = opening;
    }
    return this.channel;
  }

  async count(queue: string): Promise<number> {
    // A busy quorum leader reads as 0 on 3.10: a zero is confirmed (confirmed-count.ts).
    return (await confirmedCount(() => this.read(queue))) ?? 0;
  }

  private async read(queue: string): Promise<number> {
    const current = this.open();
    try {
      return (await (await current).checkQueue(queue)).messageCount;
    } catch (err) {
      if (this.channel === current) this.channel = null;
      if (amqpCode(err) === AMQP_NOT_FOUND) throw new MoveError(`queue '${queue}' does not exist`, null, null);
      throw err;
    }
  }

  async close(): Promise<void> {
    const ch = this.channel;
    this.channel = null;
    if (ch) await ch.then((c) => c.close()).catch(() => undefined);
  }
}

async function shovelState(mgmt: ManagementClient, vhost: string, name: string): Promise<{ state: string; reason?: string } | null> {
  const all = await mgmt.shovels(vhost);
  const s = all.find((x) => x.name === name);
  return s ? { state: s.state, reason: s.reason } : null;
}

export async function deleteShovel(mgmt: ManagementClient, vhost: string, name: string): Promise<boolean> {
  return mgmt.deleteShovel(vhost, name);
}

/**
 * Removes the shovels in `names` that exist in `vhost` (left by a dead sidecar, or created late),
 * one at a time through `pace`, then waits briefly until the broker no longer reports them running.
 * Returns how many existed.
 *
 * Why RabbitMQ 3.10.8 answers such a delete with HTTP 500 and an empty body (seen in the broker
 * log as a crashed `cowboy_stream_h:request_process` with `no match of right hand side value
 * {error,not_found}` in rabbit_shovel_dyn_worker_sup_sup:stop_child/1):
 * `DELETE /api/parameters/shovel/{vhost}/{name}` first removes the parameter from the database,
 * then stops the worker, asserting `ok = mirrored_supervisor:terminate_child(…)` (line 70) and
 * `ok = mirrored_supervisor:delete_child(…)` (line 71). Every dynamic shovel start and stop in the
 * cluster waits for one global lock (rabbit_shovel_locks uses the resource `dynamic_shovel` for
 * all of them), so under load a creation can take many seconds; a sidecar killed meanwhile (or a
 * client that gave up) abandons a PUT whose parameter is already written but whose worker was
 * never started. Deleting such a leftover fails at line 70 — exactly the shovels a resumed run
 * removes first. A stop that runs beside shovel starts can also find its child spec already gone
 * (a start deletes the specs of workers not running at that moment) and fail at line 71; the
 * stopped shovel may then stay listed in /api/shovels. Either way the parameter is gone when the
 * 500 arrives: ManagementClient settles the answer by reading it back (call-policy.ts), and the
 * deletes of one run go one at a time (Pace) instead of all at once.
 */
export async function removeShovels(
  mgmt: ManagementClient,
  vhost: string,
  names: string[],
  opts: { pace?: Pace; onDelete?: (name: string) => void; stopWaitMs?: number } = {},
): Promise<number> {
  const wanted = new Set(names);
  const present = (await mgmt.shovelParameters(vhost)).filter((p) => wanted.has(p.name)).map((p) => p.name);
  for (const name of present) {
    opts.onDelete?.(name);
    const del = () => mgmt.deleteShovel(vhost, name);
    await (opts.pace ? opts.pace.run(del) : del());
  }
  if (present.length === 0) return 0;
  // The worker stops after its parameter is gone; its unacknowledged messages go back to the
  // source only then, and the caller's next step reads counts.
  const until = Date.now() + (opts.stopWaitMs ?? 10_000);
  for (;;) {
    const running = (await mgmt.shovels(vhost)).filter((s) => present.includes(s.name) && s.state !== 'terminated');
    if (running.length === 0 || Date.now() > until) break;
    await sleep(100);
  }
  return present.length;
}

/**
 * Moves everything from `source` to `destination`. Resolves with the final exact counts (the
 * caller verifies them against what it expects); throws MoveError on a start timeout, a
 * terminated shovel or an overall timeout (shovel deleted), MoveAbortedError on abort.
 */
export async function moveMessages(mgmt: ManagementClient, amqp: AmqpPool, spec: MoveSpec): Promise<MoveResult> {
  const counter = new QueueCounter(amqp, spec.vhost);
  try {
    return await move(mgmt, counter, spec);
  } finally {
    await counter.close();
  }
}

async function move(mgmt: ManagementClient, counter: QueueCounter, spec: MoveSpec): Promise<MoveResult> {
  const counts = () => Promise.all([counter.count(spec.source), counter.count(spec.destination)]);
  const started = Date.now();
  const deadline = started + spec.timeoutMs;
  const maxRounds = spec.maxRounds ?? 3;
  const [src0, dst0] = await counts();
  let src = src0;
  let dst = dst0;
  let rounds = 0;
  while (src > 0) {
    if (rounds >= maxRounds) {
      recordShovelError('rounds_exhausted');
      throw new MoveError(`'${spec.source}' still holds ${src} message(s) after ${rounds} shovel round(s)`, src, dst);
    }
    rounds++;
    const target = src + dst;
    await mgmt.putShovel(spec.vhost, spec.name, shovelDefinition(spec.vhost, spec.source, spec.destination, prefetchFor(src)));
    try {
      await spec.onShovelCreated?.();
      ({ src, dst } = await awaitCompletion(mgmt, counts, spec, target, dst0, deadline));
    } catch (err) {
      if (err instanceof MoveAbortedError) throw err;
      recordShovelError(shovelErrorReason((err as Error).message));
      await mgmt.deleteShovel(spec.vhost, spec.name).catch(() => undefined);
      throw err;
    }
    await mgmt.deleteShovel(spec.vhost, spec.name);
    // Deleting the shovel returns its unacknowledged messages to the source: read again.
    [src, dst] = await counts();
    spec.onProgress?.(Math.max(0, dst - dst0));
  }
  return { sourceCount: src, destinationCount: dst, destinationBefore: dst0, rounds, durationMs: Date.now() - started };
}

async function awaitCompletion(
  mgmt: ManagementClient,
  counts: () => Promise<[number, number]>,
  spec: MoveSpec,
  target: number,
  dst0: number,
  deadline: number,
): Promise<{ src: number; dst: number }> {
  const startedAt = Date.now();
  let interval = FIRST_POLL_MS;
  let lastStateCheck = startedAt;
  let running = false;
  let lastDst = -1;
  let lastChange = Date.now();
  for (;;) {
    if (spec.shouldAbort?.()) throw new MoveAbortedError();
    const [src, dst] = await counts();
    spec.onProgress?.(Math.max(0, dst - dst0));
    const now = Date.now();
    if (dst !== lastDst) {
      lastDst = dst;
      lastChange = now;
      if (dst > dst0) running = true;
    }
    if (src === 0 && dst >= target) {
      // Everything arrived. One short beat lets the shovel's last acknowledgements reach the
      // source before the shovel is deleted (an unacknowledged message would come back).
      await sleep(Math.min(interval, 50));
      return { src, dst };
    }
    if (src === 0 && now - lastChange >= (spec.settleMs ?? 1500)) {
      // The source is empty and nothing arrives any more: fewer came than expected (expired,
      // consumed). Stop here; the caller's verification decides.
      return { src, dst };
    }
    if (now > deadline) {
      throw new MoveError(`moving '${spec.source}' to '${spec.destination}' timed out: ${src} message(s) still in the source, ${dst} in the destination`, src, dst);
    }
    // Ask the shovel itself only while nothing is moving (not yet started, or stalled).
    if ((!running || now - lastChange >= STATE_CHECK_MS) && now - lastStateCheck >= STATE_CHECK_MS) {
      lastStateCheck = now;
      const st = await shovelState(mgmt, spec.vhost, spec.name);
      if (st?.state === 'running') running = true;
      else if (st?.state === 'terminated') {
        throw new MoveError(`shovel '${spec.name}' terminated: ${st.reason ?? 'no reason given'}`, src, dst);
      } else if (!running && now - startedAt > spec.startTimeoutMs) {
        throw new MoveError(`shovel '${spec.name}' did not start within ${Math.round(spec.startTimeoutMs / 1000)} s (state: ${st?.state ?? 'not reported'}${st?.reason ? `, ${st.reason}` : ''})`, src, dst);
      }
    }
    await sleep(interval);
    interval = Math.min(MAX_POLL_MS, Math.ceil(interval * 1.5));
  }
}
