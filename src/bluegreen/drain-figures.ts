/**
 * The figures of a drain, gathered by I/O (judged purely in drain-judgement.ts, shown by
 * drain-view.ts): per source queue its messages, consumers other than the drain's link and its
 * publish counter; per target queue messages and consumers; per link (shovel) its state.
 *
 * The link's own consumer is told apart by its connection: a dynamic shovel consumes its source
 * over a direct (in-broker) connection, listed without peer host (broker/shovel-leftovers.ts
 * isDirectConsumer; on 3.10 its connection_name is a bare Erlang pid, user "none"). One such
 * consumer per queue whose link exists is the link; any other consumer counts.
 */
import { enc, type ManagementClient } from '../broker/management-client.js';
import { isDirectConsumer } from '../broker/shovel-leftovers.js';
import { newestRow } from '../broker/shovels.js';
import { erlangText } from '../transfer/shovel-definition.js';
import type { SourceSample } from './drain-judgement.js';
import type { LinkState, SideFigures } from './drain-record.js';

export interface LinkFigures {
  state: LinkState;
  reason: string | null;
}

export interface DrainFigures {
  /** Source queues that exist. */
  source: Map<string, SourceSample>;
  /** Target queues that exist; null when the target could not be read. */
  target: Map<string, SideFigures> | null;
  /** By shovel name; absent = no such parameter. */
  links: Map<string, LinkFigures>;
}

interface QueueRow {
  name: string;
  messages?: number | null;
  consumers?: number | null;
  message_stats?: { publish?: number };
}

interface ConsumerRow {
  queue: { name: string; vhost: string };
  channel_details?: { peer_host?: unknown; user?: unknown };
}

export async function gatherDrainFigures(source: ManagementClient, target: ManagementClient | null, vhost: string, shovels: string[]): Promise<DrainFigures> {
  const v = enc(vhost);
  const [queues, consumers, params, statuses, targetQueues] = await Promise.all([
    source.ok<QueueRow[]>('GET', `/queues/${v}`, undefined, { params: { columns: 'name,messages,message_stats.publish' } }),
    source.ok<ConsumerRow[]>('GET', `/consumers/${v}`),
    source.shovelParameters(vhost),
    source.shovels(vhost),
    target
      ? target.ok<QueueRow[]>('GET', `/queues/${v}`, undefined, { params: { columns: 'name,messages,consumers' } }).catch(() => null)
      : Promise.resolve(null),
  ]);
  const ours = new Set(shovels);
  const links = new Map<string, LinkFigures>();
  for (const p of params) if (ours.has(p.name)) links.set(p.name, { state: 'starting', reason: null });
  for (const [name, link] of links) {
    const row = newestRow(statuses.filter((s) => s.name === name));
    if (!row) continue;
    const state = row.state === 'running' || row.state === 'terminated' ? row.state : 'starting';
    link.state = state;
    link.reason = state === 'terminated' ? erlangText(row.reason) : null;
  }
  const linkedQueues = new Set(params.filter((p) => ours.has(p.name)).map((p) => String(p.value['src-queue'] ?? '')));
  const all = new Map<string, number>();
  const direct = new Map<string, number>();
  for (const c of consumers) {
    all.set(c.queue.name, (all.get(c.queue.name) ?? 0) + 1);
    if (isDirectConsumer(c)) direct.set(c.queue.name, (direct.get(c.queue.name) ?? 0) + 1);
  }
  const sourceMap = new Map<string, SourceSample>();
  for (const q of queues) {
    const link = linkedQueues.has(q.name) && (direct.get(q.name) ?? 0) > 0 ? 1 : 0;
    sourceMap.set(q.name, { messages: q.messages ?? 0, consumers: (all.get(q.name) ?? 0) - link, publish: q.message_stats?.publish ?? 0 });
  }
  const targetMap = targetQueues ? new Map(targetQueues.map((q) => [q.name, { messages: q.messages ?? 0, consumers: q.consumers ?? 0 }])) : null;
  return { source: sourceMap, target: targetMap, links };
}
