/**
 * Pure judgement of a drain (model: checks/assessment.ts — the figures are gathered by I/O first,
 * drain-figures.ts, then judged here):
 * - `judgeQueue`: is a source queue idle now (0 messages, 0 consumers other than the drain's
 *   link, and its publish counter did not grow since the previous sample), since when, and was
 *   it published to. The first sample of a monitor has no previous counter: never idle yet.
 * - `idleLongEnough`: every queue still watched has been idle, continuously, for `idle_seconds`.
 * - `decideDrain`: what the monitor does next (cancel first, then cut-over, else watch).
 */
import type { DrainStatus } from './drain-record.js';

/** One source queue as sampled (absent from the sample = the queue does not exist). */
export interface SourceSample {
  messages: number;
  /** Consumers other than the drain's own shovel. */
  consumers: number;
  /** message_stats.publish (0 when the broker shows none). */
  publish: number;
}

/** What the monitor remembers of a queue between samples (kept in the record). */
export interface QueueTrack {
  idle_since: string | null;
  publish_count: number | null;
}

export interface QueueJudgement extends QueueTrack {
  idle: boolean;
  publishing: boolean;
}

/** `YYYY-MM-DD HH:MM:SS` (UTC, state/records.ts timestamp) → epoch ms. */
export function parseTimestamp(ts: string): number {
  return Date.parse(ts.replace(' ', 'T') + 'Z');
}

export function timestampOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export function judgeQueue(previous: QueueTrack, sample: SourceSample, nowMs: number): QueueJudgement {
  const baseline = previous.publish_count !== null;
  // A counter that went down (queue re-declared, statistics reset) is not proof of silence.
  const publishing = baseline && sample.publish !== previous.publish_count;
  const idle = baseline && sample.messages === 0 && sample.consumers === 0 && !publishing;
  return { idle, publishing, idle_since: idle ? (previous.idle_since ?? timestampOf(nowMs)) : null, publish_count: sample.publish };
}

/**
 * How long a queue has been idle, in ms. `idle_since` has whole seconds (truncated), so a second
 * is taken off: the drain never cuts over before `idle_seconds` really passed.
 */
export function idleForMs(idleSince: string | null, nowMs: number): number {
  if (!idleSince) return 0;
  return Math.max(0, nowMs - parseTimestamp(idleSince) - 1000);
}

export function idleLongEnough(watched: Array<{ idle_since: string | null }>, idleSeconds: number, nowMs: number): boolean {
  return watched.every((q) => q.idle_since !== null && idleForMs(q.idle_since, nowMs) >= idleSeconds * 1000);
}

export type DrainAction = 'cancel' | 'cut_over' | 'watch';

export function decideDrain(d: { status: DrainStatus; cancelRequested: boolean; cutoverRequested: boolean; idleLongEnough: boolean }): DrainAction {
  if (d.status !== 'draining' && d.status !== 'cutting_over') return 'watch';
  if (d.cancelRequested) return 'cancel';
  if ((d.status === 'cutting_over' || d.cutoverRequested) && d.idleLongEnough) return 'cut_over';
  return 'watch';
}
