/**
 * What `GET bluegreen/status[/:id]` answers (schemas/bluegreen-status-response.json,
 * bluegreen-list-response.json): pure, from the record and the figures gathered at request time
 * (an active drain) or stored at its end (an ended one).
 */
import type { DrainFigures } from './drain-figures.js';
import type { DrainQueueFigures, DrainQueueRecord, DrainQueueState, DrainRecord, DrainStatus, DrainTotals } from './drain-record.js';

export interface DrainQueueView extends DrainQueueFigures {
  name: string;
  state: DrainQueueState;
}

export interface DrainDetail {
  drain_id: string;
  vhost: string;
  target: string;
  target_cluster_name: string;
  status: DrainStatus;
  reason: string;
  who: string;
  started_at: string;
  ended_at: string | null;
  idle_seconds: number;
  remove_source_queues: boolean;
  target_shovel_user: string;
  cutover_requested_at: string | null;
  cancel_requested_at: string | null;
  error: string | null;
  totals: DrainTotals;
  queues: DrainQueueView[];
}

/** One queue's figures now (the monitor's idle tracking from the record, the rest from `figures`). */
export function queueFigures(q: DrainQueueRecord, figures: DrainFigures): DrainQueueFigures {
  const s = figures.source.get(q.name);
  const t = figures.target?.get(q.name);
  const link = figures.links.get(q.shovel) ?? { state: 'absent' as const, reason: null };
  return {
    source: {
      messages: s?.messages ?? 0,
      consumers: s?.consumers ?? 0,
      publishing: q.publishing,
      idle_since: q.idle_since,
      removed: q.source_removed,
    },
    target: { messages: t?.messages ?? 0, consumers: t?.consumers ?? 0 },
    link,
  };
}

export function totalsOf(queues: Array<{ state: DrainQueueState; source: { messages: number }; target: { messages: number } }>): DrainTotals {
  return {
    queues: queues.length,
    idle_queues: queues.filter((q) => q.state === 'idle').length,
    source_messages: queues.reduce((n, q) => n + q.source.messages, 0),
    target_messages: queues.reduce((n, q) => n + q.target.messages, 0),
  };
}

const EMPTY: DrainQueueFigures = {
  source: { messages: 0, consumers: 0, publishing: false, idle_since: null, removed: false },
  target: { messages: 0, consumers: 0 },
  link: { state: 'absent', reason: null },
};

/** The detail: live figures when given, else each queue's stored final figures. */
export function drainDetail(r: DrainRecord, figures: DrainFigures | null): DrainDetail {
  const queues: DrainQueueView[] = r.queues.map((q) => ({ name: q.name, state: q.state, ...(figures ? queueFigures(q, figures) : (q.final ?? EMPTY)) }));
  return {
    drain_id: r.id,
    vhost: r.vhost,
    target: r.target,
    target_cluster_name: r.target_cluster_name,
    status: r.status,
    reason: r.reason,
    who: r.who,
    started_at: r.started_at,
    ended_at: r.ended_at,
    idle_seconds: r.idle_seconds,
    remove_source_queues: r.remove_source_queues,
    target_shovel_user: r.target_shovel_user,
    cutover_requested_at: r.cutover_requested_at,
    cancel_requested_at: r.cancel_requested_at,
    error: r.error,
    totals: totalsOf(queues),
    queues,
  };
}
