/**
 * qmig's Prometheus metrics: one process-wide registry holding the counters and histograms, and
 * the functions that feed them. Anything in the sidecar may call these (the engine, the checks,
 * transfers, the broker client instrumentation); they never throw and cost a map lookup.
 *
 * State that can be read (migrations by status, queues by status, transfers) is not counted here
 * but collected at scrape time (state-collector.ts); what happens inside a running migration is
 * observed from the live registry (engine-observer.ts).
 *
 * Labels are bounded: no queue names, no vhost names, no migration ids.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ShovelErrorReason } from '../events/domain-events.js';
import { QUEUE_STEPS } from '../state/records.js';

export const registry = new Registry();

let defaultsCollected = false;
/** Node.js process metrics (cpu, memory, event loop lag), once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: registry });
}

// --- migrations -----------------------------------------------------------------------------

export const migrationsFinished = new Counter({
  name: 'qmig_migrations_finished_total',
  help: 'Migrations run by this sidecar process that reached a final status, by that status.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const rollbacksFinished = new Counter({
  name: 'qmig_rollbacks_finished_total',
  help: 'Rollbacks (quorum back to mirrored classic, POST rollback/:id) run by this sidecar process that reached a final status, by that status. They are counted in qmig_migrations_finished_total too.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const queuesFinished = new Counter({
  name: 'qmig_queue_migrations_total',
  help: 'Queues handled by migrations run by this sidecar process, by outcome (completed, failed, skipped).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const messagesMoved = new Counter({
  name: 'qmig_messages_moved_total',
  help: 'Messages migrated from mirrored classic queues into quorum queues by this sidecar process.',
  registers: [registry],
});

/** Phases take from milliseconds (empty queue) to hours (millions of messages). */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];

export const phaseDuration = new Histogram({
  name: 'qmig_migration_phase_duration_seconds',
  help: `Time a queue spent in each phase of its migration (${QUEUE_STEPS.join(', ')}).`,
  labelNames: ['phase'] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const queueDuration = new Histogram({
  name: 'qmig_queue_migration_duration_seconds',
  help: "Time from the start of a queue's migration to its end, by outcome.",
  labelNames: ['outcome'] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const migrationDuration = new Histogram({
  name: 'qmig_migration_duration_seconds',
  help: 'Time from the start of a migration run in this process to its final status, by that status.',
  labelNames: ['status'] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

// --- checks ---------------------------------------------------------------------------------

export const checkResults = new Counter({
  name: 'qmig_check_results_total',
  help: 'System check results of compatibility checks, by check type and status (passed, warning, failed).',
  labelNames: ['check_type', 'status'] as const,
  registers: [registry],
});

export const unsuitableQueues = new Counter({
  name: 'qmig_check_queue_issues_total',
  help: 'Queue issues found by compatibility checks, by issue type and severity.',
  labelNames: ['type', 'severity'] as const,
  registers: [registry],
});

// --- shovels --------------------------------------------------------------------------------

export const shovelErrors = new Counter({
  name: 'qmig_shovel_errors_total',
  help: 'Shovel moves that failed, by reason (terminated, start_timeout, timeout, rounds_exhausted, other).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

// --- broker API -----------------------------------------------------------------------------

export const brokerRequestDuration = new Histogram({
  name: 'qmig_broker_request_duration_seconds',
  help: 'Latency of management API requests made by the sidecar, by method, endpoint (first path segment) and status class.',
  labelNames: ['method', 'endpoint', 'status_class'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const brokerErrors = new Counter({
  name: 'qmig_broker_errors_total',
  help: 'Management API requests that failed: kind "unreachable" (no answer, timeout), "server_error" (5xx) or "client_error" (4xx other than 401, 403 and 404: refused caller credentials and absent objects are not errors of the sidecar).',
  labelNames: ['method', 'endpoint', 'kind'] as const,
  registers: [registry],
});

// --- transfers ------------------------------------------------------------------------------

export const transfersFinished = new Counter({
  name: 'qmig_transfers_finished_total',
  help: 'Transfers run by this sidecar process that reached a final status, by that status.',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const transferMessagesMoved = new Counter({
  name: 'qmig_transfer_messages_moved_total',
  help: 'Messages moved to another cluster by transfers run by this sidecar process.',
  registers: [registry],
});

export const transferQueuesFinished = new Counter({
  name: 'qmig_transfer_queues_total',
  help: 'Queues handled by transfers run by this sidecar process, by outcome.',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

// --- blue-green drains -----------------------------------------------------------------------

export const drainsStarted = new Counter({
  name: 'qmig_bluegreen_drains_started_total',
  help: 'Blue-green drains started through this sidecar process.',
  registers: [registry],
});

export const drainsFinished = new Counter({
  name: 'qmig_bluegreen_drains_finished_total',
  help: 'Blue-green drains whose end this sidecar process carried out, by final status (completed, cancelled, failed).',
  labelNames: ['status'] as const,
  registers: [registry],
});

export const drainBacklog = new Gauge({
  name: 'qmig_bluegreen_backlog_messages',
  help: "Messages of a running blue-green drain's queues, by side (source: still to move; target: arrived and not yet consumed), as its monitor in this sidecar process last saw them.",
  labelNames: ['drain_id', 'side'] as const,
  registers: [registry],
});

// --- functions the rest of the sidecar calls -------------------------------------------------

const safe = (fn: () => void): void => {
  try {
    fn();
  } catch {
    // metrics never break the work they measure
  }
};

const label = (v: unknown, fallback = 'unknown'): string => (typeof v === 'string' && v.length > 0 && v.length <= 64 ? v : fallback);

export interface CheckReportLike {
  queue_checks?: { results?: Array<{ type?: string; severity?: string }> };
  system_checks?: { checks?: Array<{ check_type?: string; status?: string }> };
}

/** Counts the system check results and queue issues of one compatibility report. */
export function recordCheckReport(report: CheckReportLike | null | undefined): void {
  safe(() => {
    for (const c of report?.system_checks?.checks ?? []) checkResults.inc({ check_type: label(c.check_type), status: label(c.status) });
    for (const q of report?.queue_checks?.results ?? []) unsuitableQueues.inc({ type: label(q.type), severity: label(q.severity) });
  });
}

let exactPhases = false;

/**
 * Exact duration of one phase of one queue (call around each engine step). Once the engine
 * reports phases itself, the sampled phase durations of engine-observer.ts stop (no double count).
 */
export function recordPhaseDuration(phase: string, seconds: number): void {
  exactPhases = true;
  safe(() => {
    if (Number.isFinite(seconds) && seconds >= 0) phaseDuration.observe({ phase: label(phase) }, seconds);
  });
}

/** True once the engine reports phase durations itself. */
export function engineReportsPhases(): boolean {
  return exactPhases;
}

/** A shovel move failed (call where moveMessages throws its MoveError). */
export function recordShovelError(reason: ShovelErrorReason): void {
  safe(() => shovelErrors.inc({ reason }));
}

/** A transfer ended (completed, failed, cancelled). */
export function recordTransferFinished(status: string): void {
  safe(() => transfersFinished.inc({ status: label(status) }));
}

/** A transfer's queue ended; `moved` = messages the target gained. */
export function recordTransferQueue(outcome: string, moved: number): void {
  safe(() => {
    transferQueuesFinished.inc({ outcome: label(outcome) });
    if (Number.isFinite(moved) && moved > 0) transferMessagesMoved.inc(moved);
  });
}

/** A blue-green drain started. */
export function recordDrainStarted(): void {
  safe(() => drainsStarted.inc());
}

/** A drain id as a label: ids are longer than other label values (≈ 70 characters); a series lives only while its drain runs. */
const drainLabel = (id: string): string => (id.length > 0 && id.length <= 256 ? id : 'unknown');

/** A blue-green drain's monitor sampled both sides. */
export function recordDrainBacklog(drainId: string, source: number, target: number): void {
  safe(() => {
    drainBacklog.set({ drain_id: drainLabel(drainId), side: 'source' }, source);
    drainBacklog.set({ drain_id: drainLabel(drainId), side: 'target' }, target);
  });
}

/** A blue-green drain ended: counted, and its backlog series removed. */
export function recordDrainEnded(drainId: string, status: string): void {
  safe(() => {
    drainsFinished.inc({ status: label(status) });
    drainBacklog.remove({ drain_id: drainLabel(drainId), side: 'source' });
    drainBacklog.remove({ drain_id: drainLabel(drainId), side: 'target' });
  });
}

/** Text exposition of every process-wide metric (plus `extra` registries, e.g. scrape-time state). */
export async function exposition(extra: Registry[] = []): Promise<{ contentType: string; body: string }> {
  const merged = extra.length === 0 ? registry : Registry.merge([registry, ...extra]);
  return { contentType: registry.contentType, body: await merged.metrics() };
}

// --- trust ----------------------------------------------------------------------------------

export const stateRejected = new Counter({
  name: 'qmig_state_rejected_total',
  help: 'Stored state that failed verification (unsealed, forged, altered or malformed) and was not acted on, by kind; each distinct stored value counts once per sidecar process.',
  labelNames: ['kind'] as const,
  registers: [registry],
});
