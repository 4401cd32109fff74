/**
 * Pause on alarm. A memory or disk alarm on any node blocks every publisher of the cluster — the
 * shovels and the sidecar's own moves included — so a queue started under an alarm would only
 * stall until its timeout. Before each queue starts, the run passes this gate: with an alarm
 * raised on a running node the migration is `paused` (status, reason, audit line, log), waits, and
 * goes on (`in_progress` again, a note saying for how long) once every alarm has cleared. An
 * interrupt or the run stopping ends the wait; the run then stops as it does for an interrupt.
 * Queues already in flight are left alone: the broker unblocks their moves when the alarm clears.
 *
 * The workers share one broker read per interval (`GET /api/nodes`, four columns) and one wait.
 * The judgement is checks/alarms.ts's, the same the pre-flight check makes. A read that fails is
 * logged and lets the queue start: the gate never turns a management hiccup into a stopped run.
 */
import type { BrokerNode, ManagementClient } from '../broker/management-client.js';
import { checkActiveAlarms } from '../checks/alarms.js';
import type { NodeState } from '../checks/cluster-snapshot.js';

export interface Alarm {
  node: string;
  alarm: 'memory' | 'disk';
}

export interface AlarmGateDeps {
  readAlarms(): Promise<Alarm[]>;
  /** The migration is paused for `reason` (record the status). */
  paused(reason: string): Promise<void>;
  /** Every alarm cleared, or the wait was ended: the migration goes on (record the status). */
  resumed(reason: string, pausedMs: number): Promise<void>;
  /** True when the run must stop waiting (interrupt requested, run aborted or stopping). */
  stopWaiting(): Promise<boolean>;
  /** A failed read (the queue starts anyway). */
  readFailed(err: unknown): void;
  intervalMs: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** The alarms of running nodes, as the active_alarms check judges them. */
export async function readClusterAlarms(mgmt: ManagementClient): Promise<Alarm[]> {
  const nodes = await mgmt.ok<BrokerNode[]>('GET', '/nodes', undefined, { params: { columns: 'name,running,mem_alarm,disk_free_alarm' } });
  return (checkActiveAlarms(nodes as NodeState[]).details?.alarms as Alarm[] | undefined) ?? [];
}

export const describeAlarms = (alarms: readonly Alarm[]): string => alarms.map((a) => `${a.alarm} alarm on ${a.node}`).join(', ');

export class AlarmGate {
  private last: { at: number; alarms: Alarm[] } | null = null;
  private reading: Promise<Alarm[]> | null = null;
  private waiting: Promise<void> | null = null;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly deps: AlarmGateDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = deps.now ?? Date.now;
  }

  /** Resolves when no alarm is raised (at once, usually), or when the wait was ended. */
  async pass(): Promise<void> {
    if (this.waiting) return this.waiting;
    let alarms: Alarm[];
    try {
      alarms = await this.current();
    } catch (err) {
      this.deps.readFailed(err);
      return;
    }
    if (alarms.length === 0) return;
    this.waiting ??= this.waitUntilClear(alarms).finally(() => (this.waiting = null));
    return this.waiting;
  }

  /** The alarms now: the last read when it is younger than the interval, else one shared read. */
  private current(maxAgeMs = this.deps.intervalMs): Promise<Alarm[]> {
    if (this.last && this.now() - this.last.at < maxAgeMs) return Promise.resolve(this.last.alarms);
    this.reading ??= this.deps
      .readAlarms()
      .then((alarms) => {
        this.last = { at: this.now(), alarms };
        return alarms;
      })
      .finally(() => (this.reading = null));
    return this.reading;
  }

  private async waitUntilClear(first: Alarm[]): Promise<void> {
    const reason = describeAlarms(first);
    const since = this.now();
    await this.deps.paused(reason);
    try {
      let alarms = first;
      while (alarms.length > 0) {
        if (await this.deps.stopWaiting()) return;
        await this.sleep(this.deps.intervalMs);
        try {
          alarms = await this.current(0);
        } catch (err) {
          this.deps.readFailed(err); // still paused: try again after the interval
        }
      }
    } finally {
      await this.deps.resumed(reason, this.now() - since);
    }
  }
}
