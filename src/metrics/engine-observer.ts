/**
 * Watches the migrations that run in this process (ctx.live holds the very records the engine
 * updates in place) and turns what changes into counters and histograms, without any call from
 * the engine:
 * - messages moved: growth of each queue's `migrated_messages` (counted from its value when the
 *   run started, so a resumed migration does not count again what an earlier owner moved);
 * - queues finished, by outcome; queue durations;
 * - phase durations, by sampling each queue's `phase` every `intervalMs` (a phase shorter than
 *   the interval is merged into its neighbour) — unless the engine reports exact phase durations
 *   itself (recordPhaseDuration), which turns the sampled ones off;
 * - migrations finished, by final status, and their durations.
 *
 * It is told about runs that start and end by wrapping `live.add` / `live.remove` of the
 * registry it observes (the wrapping is undone by `stop()`).
 */
import type { LiveMigration, LiveRegistry } from '../state/live-registry.js';
import { FINAL_QUEUE_STATUSES, FINAL_STATUSES, IDLE_PHASES, kindOf, QUEUE_STEPS, type QueueRecord } from '../state/records.js';
import {
  engineReportsPhases,
  messagesMoved,
  migrationDuration,
  migrationsFinished,
  phaseDuration,
  queueDuration,
  queuesFinished,
  rollbacksFinished,
} from './metrics.js';

/** Phases the engine goes through (the steps of src/migration/queue-graph.ts); anything else is `other`. */
export const ENGINE_PHASES = QUEUE_STEPS;
const IDLE = new Set<string>(IDLE_PHASES);
const FINAL_QUEUE = new Set<string>(FINAL_QUEUE_STATUSES);
const FINAL_MIGRATION = new Set<string>(FINAL_STATUSES);

interface QueueState {
  status: string;
  phase: string;
  phaseSince: number;
  migrated: number;
  startedAt: number | null;
  counted: boolean;
}

interface Tracked {
  live: LiveMigration;
  startedAt: number;
  queues: Map<QueueRecord, QueueState>;
}

export interface EngineObserverOptions {
  /** How often running migrations are sampled (default 200 ms). */
  intervalMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

export class EngineObserver {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private restore: (() => void) | null = null;

  constructor(
    private readonly live: LiveRegistry,
    options: EngineObserverOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 200;
    this.now = options.now ?? (() => performance.now());
  }

  start(): this {
    if (this.restore) return this;
    const live = this.live;
    const add = live.add;
    const remove = live.remove;
    live.add = (m: LiveMigration) => {
      add.call(live, m);
      this.track(m);
    };
    live.remove = (id: string) => {
      const m = live.get(id);
      remove.call(live, id);
      if (m) this.untrack(m);
    };
    this.restore = () => {
      live.add = add;
      live.remove = remove;
    };
    for (const m of live.all()) this.track(m);
    return this;
  }

  stop(): void {
    this.restore?.();
    this.restore = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tracked.clear();
  }

  /** A run started (fresh or resumed): its current values are the baseline. */
  track(m: LiveMigration): void {
    const id = m.record.id;
    if (this.tracked.has(id)) return;
    const t = this.now();
    const fresh = m.queues.every((q) => q.status === 'pending' || q.status === 'skipped');
    const queues = new Map<QueueRecord, QueueState>();
    for (const q of m.queues) {
      const final = FINAL_QUEUE.has(q.status);
      if (final && fresh) queuesFinished.inc({ outcome: q.status });
      queues.set(q, {
        status: q.status,
        phase: q.phase,
        phaseSince: t,
        migrated: num(q.migrated_messages),
        startedAt: q.status === 'in_progress' ? t : null,
        counted: final,
      });
    }
    this.tracked.set(id, { live: m, startedAt: t, queues });
    if (!this.timer) {
      this.timer = setInterval(() => this.sample(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** A run ended: last sample, then its final status. */
  untrack(m: LiveMigration): void {
    const tracked = this.tracked.get(m.record.id);
    if (!tracked) return;
    this.sampleOne(tracked);
    this.tracked.delete(m.record.id);
    const status = m.record.status;
    // Still active: this process stopped taking steps (shutdown, lock lost); another resumes it.
    if (FINAL_MIGRATION.has(status)) {
      migrationsFinished.inc({ status });
      if (kindOf(m.record) === 'rollback') rollbacksFinished.inc({ status });
      migrationDuration.observe({ status }, (this.now() - tracked.startedAt) / 1000);
    }
    if (this.tracked.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Samples every tracked run (the timer calls this; tests may too). */
  sample(): void {
    for (const tracked of this.tracked.values()) this.sampleOne(tracked);
  }

  private sampleOne(tracked: Tracked): void {
    const t = this.now();
    const sampledPhases = !engineReportsPhases();
    const queues = tracked.live.queues;
    for (const q of queues) {
      let s = tracked.queues.get(q);
      if (!s) {
        s = { status: q.status, phase: q.phase, phaseSince: t, migrated: num(q.migrated_messages), startedAt: null, counted: FINAL_QUEUE.has(q.status) };
        tracked.queues.set(q, s);
      }
      const migrated = num(q.migrated_messages);
      if (migrated > s.migrated) {
        messagesMoved.inc(migrated - s.migrated);
        s.migrated = migrated;
      }
      if (q.status === 'in_progress' && s.startedAt === null) s.startedAt = t;
      const final = FINAL_QUEUE.has(q.status);
      const phase = final ? 'done' : q.phase;
      if (phase !== s.phase) {
        if (sampledPhases && !IDLE.has(s.phase)) phaseDuration.observe({ phase: phaseLabel(s.phase) }, (t - s.phaseSince) / 1000);
        s.phase = phase;
        s.phaseSince = t;
      }
      if (final && !s.counted) {
        s.counted = true;
        queuesFinished.inc({ outcome: q.status });
        if (s.startedAt !== null) queueDuration.observe({ outcome: q.status }, (t - s.startedAt) / 1000);
      }
      s.status = q.status;
    }
  }
}

function num(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0;
}

export function phaseLabel(phase: string): string {
  return (ENGINE_PHASES as readonly string[]).includes(phase) ? phase : 'other';
}
