/**
 * The plan's time model (pure): what the calibration probe measured on this cluster
 * (calibration-probe.ts) + the sizes of the queues → estimated seconds per queue and in total.
 *   path       = the way the engine moves the queue's messages (move-path.ts: fewer than
 *                QMIG_SHOVEL_MIN_MESSAGES → the sidecar over AMQP, else dynamic shovels);
 *   per queue  = that path's fixed + messages × per_message + MiB × per_mib;
 *   total      = run_overhead + the makespan of the run's own scheduling: queues taken in the
 *                run's order, `concurrency` at a time, each worker taking the next queue as soon
 *                as its previous one ended (migration-run.ts runQueues).
 * The per-queue terms were measured with `concurrency` queues of the same path in flight, so they
 * already include the contention a run of that width sees. Range: ± the relative spread the probe
 * saw between queues of the same size (calibration.spread), at least MIN_SPREAD.
 */
import { movePath, type MovePath } from './move-path.js';

/** What one move path costs per queue, as the probe measured it. */
export interface PathCosts {
  /** Seconds every queue on this path costs whatever its size (declares, deletes, moves' set-up, verification, state writes). */
  fixed_seconds: number;
  /** Seconds per message moved (twice: into the temporary queue and out of it). */
  per_message_seconds: number;
  /** Seconds per MiB of message bodies moved. */
  per_mib_seconds: number;
}

export interface Calibration {
  /** When the probe ran (ISO). */
  calibrated_at: string;
  /** Queues in flight during the probe (= QMIG_MIGRATION_CONCURRENCY of the sidecar). */
  concurrency: number;
  /** Sidecar path (queues below shovel_min_messages): seconds every queue costs whatever its size. */
  fixed_seconds: number;
  /** Sidecar path: seconds per message moved (twice: into the temporary queue and out of it). */
  per_message_seconds: number;
  /** Sidecar path: seconds per MiB of message bodies moved. */
  per_mib_seconds: number;
  /** Shovel path (queues of shovel_min_messages or more): the same three terms. */
  shovel: PathCosts;
  /** QMIG_SHOVEL_MIN_MESSAGES when the probe ran (the plan picks each queue's path with the sidecar's current setting). */
  shovel_min_messages: number;
  /** Seconds a run spends outside its queues (snapshots, fence, final record). */
  run_overhead_seconds: number;
  /** Relative spread of the probe's queue times (0.2 = ±20 %). */
  spread: number;
  /** How long the probe took (seconds). */
  probe_seconds: number;
  /** The probe's own vhost (deleted when the probe ended), also the prefix of its state parameters. */
  probe_vhost: string;
  /** The probe's raw measurements, for the operator. */
  samples: ProbeSample[];
}

export interface ProbeSample {
  kind: 'fixed' | 'messages' | 'bytes' | 'run_overhead' | 'shovel_fixed' | 'shovel_messages' | 'shovel_bytes';
  queues: number;
  messages_per_queue: number;
  bytes_per_message: number;
  /** Mean seconds per queue (wall time of its migration). */
  mean_seconds: number;
  min_seconds: number;
  max_seconds: number;
}

export interface QueueSize {
  messages: number;
  bytes: number;
}

export interface RunEstimate {
  seconds: number;
  low_seconds: number;
  high_seconds: number;
  /** Seconds per queue, in the order given. */
  per_queue: number[];
}

export const MIN_SPREAD = 0.15;
export const MAX_SPREAD = 0.6;
const MIB = 1024 * 1024;

const round = (s: number) => Math.round(s * 100) / 100;

/** The costs of one path: the sidecar's are the calibration's top-level terms. */
export function pathCosts(cal: Pick<Calibration, 'fixed_seconds' | 'per_message_seconds' | 'per_mib_seconds' | 'shovel'>, path: MovePath): PathCosts {
  return path === 'shovel' ? cal.shovel : cal;
}

/** One queue's seconds on the path the engine will take for it (`shovelMinMessages`: the sidecar's QMIG_SHOVEL_MIN_MESSAGES). */
export function queueSeconds(
  cal: Pick<Calibration, 'fixed_seconds' | 'per_message_seconds' | 'per_mib_seconds' | 'shovel' | 'shovel_min_messages'>,
  q: QueueSize,
  shovelMinMessages: number = cal.shovel_min_messages,
): number {
  const messages = Math.max(0, q.messages);
  const mib = Math.max(0, q.bytes) / MIB;
  const c = pathCosts(cal, movePath(messages, shovelMinMessages));
  return c.fixed_seconds + messages * c.per_message_seconds + mib * c.per_mib_seconds;
}

/** The run's makespan: `concurrency` workers take the queues in order (list scheduling). */
export function makespan(durations: number[], concurrency: number): number {
  const workers = new Array<number>(Math.max(1, Math.min(concurrency, durations.length || 1))).fill(0);
  for (const d of durations) {
    let k = 0;
    for (let i = 1; i < workers.length; i++) if (workers[i] < workers[k]) k = i;
    workers[k] += d;
  }
  return Math.max(0, ...workers);
}

export function relativeSpread(cal: Pick<Calibration, 'spread'>): number {
  return Math.min(MAX_SPREAD, Math.max(MIN_SPREAD, Number.isFinite(cal.spread) ? cal.spread : MIN_SPREAD));
}

/** Queues in the run's order → the estimate (a run of no queue costs its overhead only). */
export function estimateRun(
  cal: Calibration,
  queues: QueueSize[],
  concurrency: number = cal.concurrency,
  /** Measured outside the probe: the start's own check chain (the plan times it), seconds. */
  extraOverheadSeconds = 0,
  /** The sidecar's QMIG_SHOVEL_MIN_MESSAGES (default: the probe's). */
  shovelMinMessages: number = cal.shovel_min_messages,
): RunEstimate {
  const perQueue = queues.map((q) => queueSeconds(cal, q, shovelMinMessages));
  const total = cal.run_overhead_seconds + extraOverheadSeconds + makespan(perQueue, concurrency);
  const r = relativeSpread(cal);
  return {
    seconds: round(total),
    low_seconds: round(total * (1 - r)),
    high_seconds: round(total * (1 + r)),
    per_queue: perQueue.map(round),
  };
}

/**
 * From the probe's two sized groups (same fixed cost assumed): per-message and per-MiB seconds
 * by solving   t_small - fixed = m_s × a + mib_s × b   and   t_large - fixed = m_l × a + mib_l × b.
 * Negative solutions (noise on a fast cluster) are clamped to 0 and the other term refitted.
 */
export function solveRates(
  fixed: number,
  small: { seconds: number; messages: number; mib: number },
  large: { seconds: number; messages: number; mib: number },
): { per_message_seconds: number; per_mib_seconds: number } {
  const ys = Math.max(0, small.seconds - fixed);
  const yl = Math.max(0, large.seconds - fixed);
  const det = small.messages * large.mib - large.messages * small.mib;
  let a = det !== 0 ? (ys * large.mib - yl * small.mib) / det : NaN;
  let b = det !== 0 ? (small.messages * yl - large.messages * ys) / det : NaN;
  if (!(a >= 0) || !(b >= 0) || !Number.isFinite(a) || !Number.isFinite(b)) {
    // One term only: the one that explains both groups best (least squares through 0).
    const aOnly = (ys * small.messages + yl * large.messages) / Math.max(1e-9, small.messages ** 2 + large.messages ** 2);
    const bOnly = (ys * small.mib + yl * large.mib) / Math.max(1e-9, small.mib ** 2 + large.mib ** 2);
    const errA = (ys - aOnly * small.messages) ** 2 + (yl - aOnly * large.messages) ** 2;
    const errB = (ys - bOnly * small.mib) ** 2 + (yl - bOnly * large.mib) ** 2;
    if (errA <= errB) [a, b] = [aOnly, 0];
    else [a, b] = [0, bOnly];
  }
  return { per_message_seconds: a, per_mib_seconds: b };
}
