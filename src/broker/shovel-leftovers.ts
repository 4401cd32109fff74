/**
 * Removing shovels that a dead or interrupted owner left behind, and knowing that their workers
 * really stopped. On RabbitMQ 3.10 the shovel status list (`GET /api/shovels`) is not a list of
 * running workers:
 *
 * - Every node keeps its own status table, and a delete removes the row only on the node that
 *   answered the `DELETE /api/parameters/shovel/…` (`rabbit_shovel_status:remove/1` is a local
 *   cast, run by the HTTP request's process). A shovel whose worker ran on another node stays
 *   listed there as `running`, with its old timestamp, until that node restarts — its worker and
 *   consumer are gone. (Seen on the test cluster: PUT through node 1, DELETE through node 2.)
 * - A delete that crashes (`ok = mirrored_supervisor:terminate_child(…)` meeting
 *   `{error,not_found}`, see removeShovels below) also leaves its row.
 * - The reverse exists too: a worker whose parameter is gone. A PUT abandoned by a killed client
 *   whose worker start waited for the cluster-wide shovel lock (rabbit_shovel_locks) behind the
 *   delete of the same name starts a worker after the parameter was deleted. No API call names
 *   it any more; it keeps consuming its source queue.
 *
 * So a row without a parameter may be a live orphan or a stale row. Both are handled the same
 * way: the name is taken over — an idle definition is PUT under it (the broker stops whatever
 * worker has that name anywhere in the cluster before starting the idle one), then deleted; only
 * a live one (its source has a shovel consumer) counts as a leftover found. What proves a worker
 * stopped is the broker's consumer list: a dynamic shovel consumes its source over a direct
 * (in-broker) connection, listed without peer host.
 */
import { randomUUID } from 'node:crypto';
import { enc, type ManagementClient } from './management-client.js';
import type { Pace } from './pace.js';
import { IDLE_KEY_PREFIX } from './names.js';
import { sleep } from '../async/concurrency.js';

/** A consumer as `GET /api/consumers/{vhost}` lists it (the fields used here). */
interface BrokerConsumer {
  queue: { name: string; vhost: string };
  channel_details?: { peer_host?: unknown; user?: unknown; node?: string };
}

/** Raised when a shovel worker of a migration keeps consuming after every way to stop it. */
export class ShovelStuckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShovelStuckError';
  }
}

/**
 * A definition that moves nothing: it consumes a server-named queue bound to `amq.direct` with a
 * routing key nobody publishes to. Used only to take a shovel name over (see above).
 */
export function idleShovelDefinition(vhost: string): Record<string, unknown> {
  const uri = `amqp:///${enc(vhost)}`;
  return {
    'src-uri': uri,
    'src-exchange': 'amq.direct',
    'src-exchange-key': `${IDLE_KEY_PREFIX}${randomUUID()}`,
    'dest-uri': uri,
    'dest-exchange': 'amq.direct',
    'dest-exchange-key': `${IDLE_KEY_PREFIX}sink`,
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
  };
}

/** True for a consumer on a direct (in-broker) connection: a shovel's or a federation link's. */
export function isDirectConsumer(c: BrokerConsumer): boolean {
  const peer = c.channel_details?.peer_host;
  return peer === undefined || peer === null || peer === 'undefined';
}

/** Queues of `vhost` among `queues` that a direct (shovel) consumer still consumes. */
export async function shovelConsumedQueues(mgmt: ManagementClient, vhost: string, queues?: Set<string>): Promise<string[]> {
  const all = await mgmt.ok<BrokerConsumer[]>('GET', `/consumers/${enc(vhost)}`);
  const names = all.filter((c) => isDirectConsumer(c) && (!queues || queues.has(c.queue.name))).map((c) => c.queue.name);
  return [...new Set(names)].sort();
}

export interface RemoveShovelsOptions {
  pace?: Pace;
  /** Called before a parameter is deleted or a live orphan's name taken over. */
  onDelete?: (name: string, how: 'delete' | 'take_over') => void;
  /** How long to wait for the stopped workers' consumers to leave their queues. */
  stopWaitMs?: number;
}

/**
 * Removes the shovels in `names` from `vhost`: deletes those with a parameter, takes over those
 * the status list shows without one while a shovel consumer is on their source (live orphans),
 * one at a time through `pace`, then waits until no shovel
 * consumer is left on their source queues (their unacknowledged messages are back in the source
 * then: the caller's next step reads counts). Returns how many there were. Throws
 * ShovelStuckError when a worker still consumes after two take-overs.
 *
 * Why RabbitMQ 3.10.8 answers such a delete with HTTP 500 and an empty body (seen in the broker
 * log as a crashed `cowboy_stream_h:request_process` with `no match of right hand side value
 * {error,not_found}` in rabbit_shovel_dyn_worker_sup_sup:stop_child/1):
 * `DELETE /api/parameters/shovel/{vhost}/{name}` first removes the parameter from the database,
 * then stops the worker, asserting `ok = mirrored_supervisor:terminate_child(…)` (line 70) and
 * `ok = mirrored_supervisor:delete_child(…)` (line 71). Every dynamic shovel start and stop in the
 * cluster waits for one global lock, so under load a creation can take many seconds; a sidecar
 * killed meanwhile abandons a PUT whose parameter is already written but whose worker was never
 * started. Deleting such a leftover fails at line 70 — exactly the shovels a resumed run removes
 * first. A stop that runs beside the broker's periodic clean-up of child specs can also find its
 * spec already gone and fail at line 71. Either way the parameter is gone when the 500 arrives:
 * ManagementClient settles the answer by reading it back (call-policy.ts), and the deletes of one
 * run go one at a time (Pace).
 */
export async function removeShovels(mgmt: ManagementClient, vhost: string, names: string[], opts: RemoveShovelsOptions = {}): Promise<number> {
  const wanted = new Set(names);
  const [params, rows] = await Promise.all([mgmt.shovelParameters(vhost), mgmt.shovels(vhost)]);
  const withParameter = params.filter((p) => wanted.has(p.name));
  const parameterNames = new Set(withParameter.map((p) => p.name));
  // A row without a parameter: a live orphan while a shovel consumer is on its source, else a
  // stale row or an orphan between two restarts (its source was deleted). Every such name is
  // taken over (cheap, and it stops a restarting orphan before it consumes again), but only live
  // ones count as found: a stale row kept by another node stays listed whatever is done here.
  const rowsOnly = rows.filter((r) => wanted.has(r.name) && !parameterNames.has(r.name));
  const rowSources = new Set(rowsOnly.map((r) => r.src_queue).filter((q): q is string => typeof q === 'string'));
  const consumed = rowSources.size > 0 ? new Set(await shovelConsumedQueues(mgmt, vhost, rowSources)) : new Set<string>();
  const live = new Set(rowsOnly.filter((r) => r.src_queue !== undefined && consumed.has(r.src_queue)).map((r) => r.name));
  const sources = new Set<string>(consumed);
  for (const p of withParameter) if (typeof p.value['src-queue'] === 'string') sources.add(p.value['src-queue']);
  const paced = (fn: () => Promise<unknown>) => (opts.pace ? opts.pace.run(fn) : fn());

  for (const p of withParameter) {
    opts.onDelete?.(p.name, 'delete');
    await paced(() => mgmt.deleteShovel(vhost, p.name));
  }
  for (const name of new Set(rowsOnly.map((r) => r.name))) {
    if (live.has(name)) opts.onDelete?.(name, 'take_over');
    await paced(() => takeOver(mgmt, vhost, name));
  }
  const found = withParameter.length + live.size;
  if (found === 0 || sources.size === 0) return found;

  let still = await waitSourcesReleased(mgmt, vhost, sources, opts.stopWaitMs ?? 10_000);
  // A worker that still consumes has no parameter any more (every one was deleted above): an
  // orphan started behind the delete. Taking its name over stops it.
  for (let attempt = 1; still.length > 0 && attempt <= 2; attempt++) {
    for (const name of wanted) await paced(() => takeOver(mgmt, vhost, name));
    still = await waitSourcesReleased(mgmt, vhost, sources, opts.stopWaitMs ?? 10_000);
  }
  if (still.length > 0) {
    throw new ShovelStuckError(
      `a shovel worker still consumes ${still.map((q) => `'${q}'`).join(', ')} after its parameter was deleted and its name taken over twice`,
    );
  }
  return found;
}

/** Stops whatever worker has `name` anywhere in the cluster: PUT an idle definition, delete it. */
async function takeOver(mgmt: ManagementClient, vhost: string, name: string): Promise<void> {
  await mgmt.putShovel(vhost, name, idleShovelDefinition(vhost));
  await mgmt.deleteShovel(vhost, name);
}

async function waitSourcesReleased(mgmt: ManagementClient, vhost: string, sources: Set<string>, waitMs: number): Promise<string[]> {
  const until = Date.now() + waitMs;
  for (;;) {
    const still = await shovelConsumedQueues(mgmt, vhost, sources);
    if (still.length === 0 || Date.now() > until) return still;
    await sleep(200);
  }
}
