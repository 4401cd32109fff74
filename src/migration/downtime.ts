/**
 * Client downtime, recorded as it happens (issue 20: the cost of fencing next to the migration
 * time). Two measures, both in ISO times with milliseconds (records' own timestamps have seconds):
 * - a vhost's FENCE PERIODS (`record.fence_periods`): from its clients' permissions being revoked
 *   to their being put back (client-fencing.ts); a resumed run continues an open period;
 * - a queue's UNAVAILABLE interval (`detail.unavailable`): from its messages starting to leave it
 *   (move_to_temporary, or the empty fast path) until the queue under its name holds them again
 *   (the step after the move back: delete_temporary, or finish), entered through status.ts enterPhase.
 * `downtimeOf` is the pure summary status and the benchmark show.
 */
import type { MigrationRecord, QueuePhase, QueueRecord } from '../state/records.js';

const OUT_OF_REACH: readonly QueuePhase[] = ['move_to_temporary', 'empty_fast_path'];
const BACK: readonly QueuePhase[] = ['delete_temporary', 'finish'];

export interface FencePeriod {
  vhost: string;
  from: string;
  to?: string;
}

/** A queue enters `phase`: stamps the start or the end of its unavailable interval. */
export function stampAvailability(q: QueueRecord, phase: QueuePhase, now = new Date()): void {
  const u = q.detail.unavailable;
  if (OUT_OF_REACH.includes(phase) && !u) q.detail.unavailable = { from: now.toISOString() };
  else if (BACK.includes(phase) && u && !u.to) u.to = now.toISOString();
}

/** Clients of `vhost` are being fenced: a new period, unless one is open (a resumed fence). */
export function openFencePeriod(r: MigrationRecord, vhost: string, now = new Date()): void {
  const periods = (r.fence_periods ??= []);
  if (!periods.some((p) => p.vhost === vhost && !p.to)) periods.push({ vhost, from: now.toISOString() });
}

/** Clients of `vhost` are back. */
export function closeFencePeriod(r: MigrationRecord, vhost: string, now = new Date()): void {
  for (const p of r.fence_periods ?? []) if (p.vhost === vhost && !p.to) p.to = now.toISOString();
}

export interface Downtime {
  /** Seconds each vhost was fenced (an open period counts until `now`). */
  fenced_seconds: Record<string, number>;
  /** Seconds each queue's messages were out of its consumers' reach (queues that have such an interval). */
  queues_unavailable_seconds: Record<string, number>;
}

const seconds = (from: string, to: string | undefined, now: number) => {
  const a = Date.parse(from);
  const b = to ? Date.parse(to) : now;
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, Math.round(b - a) / 1000) : 0;
};

/**
 * `now`: where open intervals end — the run's end for an ended run (a period left open by a
 * sidecar that died is closed by housekeeping, which does not stamp it), else the present.
 */
export function downtimeOf(r: Pick<MigrationRecord, 'fence_periods' | 'completed_at'>, queues: QueueRecord[], present = Date.now()): Downtime {
  const ended = r.completed_at ? Date.parse(`${r.completed_at.replace(' ', 'T')}Z`) : NaN;
  const now = Number.isFinite(ended) ? ended : present;
  const fenced: Record<string, number> = {};
  for (const p of Array.isArray(r.fence_periods) ? r.fence_periods : []) {
    if (typeof p?.vhost !== 'string' || typeof p.from !== 'string') continue;
    fenced[p.vhost] = Math.round(((fenced[p.vhost] ?? 0) + seconds(p.from, p.to, now)) * 1000) / 1000;
  }
  const unavailable: Record<string, number> = {};
  for (const q of queues) {
    const s = queueUnavailableSeconds(q, present);
    if (s !== null) unavailable[`${q.vhost}/${q.name}`] = s;
  }
  return { fenced_seconds: fenced, queues_unavailable_seconds: unavailable };
}

/** Seconds the queue's messages were (so far) out of reach; null when they never were. An open interval of an ended queue ends with it. */
export function queueUnavailableSeconds(q: Pick<QueueRecord, 'detail' | 'completed_at'>, present = Date.now()): number | null {
  const u = q.detail?.unavailable;
  if (!u || typeof u.from !== 'string') return null;
  const ended = !u.to && q.completed_at ? Date.parse(`${q.completed_at.replace(' ', 'T')}Z`) : NaN;
  return seconds(u.from, u.to, Number.isFinite(ended) ? ended : present);
}
