/**
 * Gauges read from the state at scrape time (one registry per sidecar): migrations by status,
 * queues of the active migrations by status, transfers by status and their messages. Reads go
 * through the migration reader's cache and a short single-flight cache of the transfer list, so
 * a scrape costs at most one broker read of each per `cacheMs`. The migrations this process runs
 * are laid over that read at every scrape (they are in memory), so a migration started here is
 * counted from its first scrape on, not only once a cached read has expired. When a read fails,
 * the previous values stay and `qmig_state_read_success{source}` says 0.
 */
import { Gauge, Registry } from 'prom-client';
import type { LiveRegistry } from '../state/live-registry.js';
import type { MigrationReader } from '../state/migration-reader.js';
import { MIGRATION_STATUSES, QUEUE_STATUSES, type MigrationRecord } from '../state/records.js';
import { TRANSFER_QUEUE_STATUSES, TRANSFER_STATUSES, type TransferSummary } from '../transfer/transfer-record.js';

export interface TransferLister {
  list(): Promise<TransferSummary[]>;
}

export interface StateSources {
  reader: Pick<MigrationReader, 'listRecords'>;
  live: Pick<LiveRegistry, 'get' | 'all'>;
  transfers?: TransferLister | null;
  /** How long one read of the state is reused (default 1000 ms). */
  cacheMs?: number;
}

interface StateSnapshot {
  /** The last successful reads (null before the first one). */
  migrations: MigrationRecord[] | null;
  transfers: TransferSummary[] | null;
  /** Whether the latest reads succeeded. */
  migrationsOk: boolean;
  transfersOk: boolean;
}

const ACTIVE = new Set(['pending', 'in_progress', 'paused']);
const ACTIVE_TRANSFER = new Set(['pending', 'in_progress']);

/** Queues of active migrations by status: exact for runs of this process, else the record's counters. */
export function activeQueueCounts(records: MigrationRecord[], live: Pick<LiveRegistry, 'get'>): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(QUEUE_STATUSES.map((s) => [s, 0]));
  for (const r of records) {
    if (!ACTIVE.has(r.status)) continue;
    const running = live.get(r.id);
    if (running) {
      for (const q of running.queues) counts[q.status] = (counts[q.status] ?? 0) + 1;
      continue;
    }
    const completed = r.completed_queues ?? 0;
    const skipped = r.skipped_queues ?? 0;
    const failed = r.failed_queues ?? 0;
    counts.completed += completed;
    counts.skipped += skipped;
    counts.failed += failed;
    counts.pending += Math.max(0, (r.total_queues ?? 0) - completed - skipped - failed);
  }
  return counts;
}

/** Queues of active transfers by status, from their counters (`remaining`: not yet at an end). */
export function activeTransferQueueCounts(transfers: TransferSummary[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(
    [...TRANSFER_QUEUE_STATUSES.filter((s) => s !== 'pending' && s !== 'in_progress'), 'remaining'].map((s) => [s, 0]),
  );
  for (const t of transfers.filter((x) => ACTIVE_TRANSFER.has(x.status))) {
    counts.completed += t.completed_queues;
    counts.failed += t.failed_queues;
    counts.cancelled += t.cancelled_queues;
    counts.skipped += t.skipped_queues;
    counts.remaining += Math.max(0, t.total_queues - t.completed_queues - t.failed_queues - t.cancelled_queues - t.skipped_queues);
  }
  return counts;
}

/** Label values and the value of each series of a gauge. */
type Series = Array<[Record<string, string>, number]>;

interface StateGaugeSpec {
  name: string;
  help: string;
  labelNames?: string[];
  /** Clear every series before setting the new ones (a series whose label is no longer set disappears). */
  reset?: boolean;
  /** The series from this scrape's state; null leaves the gauge as it is (no successful read yet). */
  values: (state: StateSnapshot) => Series | null;
}

/** The one shape of every state gauge: read the (shared) state at scrape time, then set its series. */
function stateGauge(registry: Registry, read: () => Promise<StateSnapshot>, spec: StateGaugeSpec): void {
  new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    async collect() {
      const state = await read();
      if (spec.reset) this.reset();
      const series = spec.values(state);
      if (!series) return;
      for (const [labels, value] of series) this.set(labels, value);
    },
  });
}

export class StateCollector {
  readonly registry = new Registry();
  private cached: { at: number; value: Promise<StateSnapshot>; pending: boolean } | null = null;
  private last: StateSnapshot = { migrations: null, transfers: null, migrationsOk: false, transfersOk: false };

  constructor(private readonly sources: StateSources) {
    const gauge = (spec: StateGaugeSpec) => stateGauge(this.registry, () => this.withLiveRuns(this.snapshot()), spec);
    const byStatus = <T extends { status: string }>(statuses: readonly string[], records: T[]): Series =>
      statuses.map((s) => [{ status: s }, records.filter((r) => r.status === s).length]);
    gauge({
      name: 'qmig_migrations',
      help: 'Migration records in the cluster, by status.',
      labelNames: ['status'],
      reset: true,
      values: ({ migrations }) => migrations && byStatus(MIGRATION_STATUSES, migrations),
    });
    gauge({
      name: 'qmig_migration_queues',
      help: 'Queues of the active (pending or in-progress) migrations, by queue status.',
      labelNames: ['status'],
      reset: true,
      values: ({ migrations }) => migrations && Object.entries(activeQueueCounts(migrations, sources.live)).map(([s, n]) => [{ status: s }, n]),
    });
    gauge({
      name: 'qmig_migration_in_progress',
      help: '1 while a migration is pending or in progress anywhere in the cluster, else 0.',
      values: ({ migrations }) => migrations && [[{}, migrations.some((r) => ACTIVE.has(r.status)) ? 1 : 0]],
    });
    gauge({
      name: 'qmig_active_migration_progress_ratio',
      help: 'Share (0..1) of the queues of the active migration that are done with (completed, skipped or failed); 0 when none is active.',
      values: ({ migrations }) => {
        if (!migrations) return null;
        const active = migrations.find((r) => ACTIVE.has(r.status));
        if (!active || !active.total_queues) return [[{}, 0]];
        const done = (active.completed_queues ?? 0) + (active.skipped_queues ?? 0) + (active.failed_queues ?? 0);
        return [[{}, Math.min(1, done / active.total_queues)]];
      },
    });
    if (sources.transfers) {
      gauge({
        name: 'qmig_transfers',
        help: 'Transfer records in the cluster, by status.',
        labelNames: ['status'],
        reset: true,
        values: ({ transfers }) => transfers && byStatus(TRANSFER_STATUSES, transfers),
      });
      gauge({
        name: 'qmig_transfer_queues',
        help: 'Queues of the active transfers, by queue status (completed, failed, cancelled, skipped, remaining).',
        labelNames: ['status'],
        reset: true,
        values: ({ transfers }) => transfers && Object.entries(activeTransferQueueCounts(transfers)).map(([s, n]) => [{ status: s }, n]),
      });
      gauge({
        name: 'qmig_transfer_messages',
        help: 'Messages of the transfer records in the cluster: "expected" (in the source queues when their moves started) and "moved" (gained by the targets).',
        labelNames: ['kind'],
        values: ({ transfers }) =>
          transfers && [
            [{ kind: 'expected' }, transfers.reduce((n, t) => n + (t.expected_messages ?? 0), 0)],
            [{ kind: 'moved' }, transfers.reduce((n, t) => n + (t.moved_messages ?? 0), 0)],
          ],
      });
    }
    const hasTransfers = !!sources.transfers;
    gauge({
      name: 'qmig_state_read_success',
      help: 'Whether the last read of the state for this scrape succeeded (1) or failed (0), by source.',
      labelNames: ['source'],
      values: (s) => [
        [{ source: 'migrations' }, s.migrationsOk ? 1 : 0],
        ...(hasTransfers ? ([[{ source: 'transfers' }, s.transfersOk ? 1 : 0]] as Series) : []),
      ],
    });
  }

  /** The state read with this process's running migrations in place of (or beside) their stored records. */
  private async withLiveRuns(read: Promise<StateSnapshot>): Promise<StateSnapshot> {
    const state = await read;
    const running = this.sources.live.all();
    if (running.length === 0 || !state.migrations) return state;
    const byId = new Map(running.map((m) => [m.record.id, m.record]));
    const migrations = state.migrations.map((r) => byId.get(r.id) ?? r);
    const stored = new Set(state.migrations.map((r) => r.id));
    for (const r of byId.values()) if (!stored.has(r.id)) migrations.push(r);
    return { ...state, migrations };
  }

  /** One read of the state per `cacheMs`, shared by every gauge of a scrape. */
  snapshot(): Promise<StateSnapshot> {
    const ttl = this.sources.cacheMs ?? 1000;
    const now = Date.now();
    // A read in flight is shared by every gauge of the scrape (and by concurrent scrapes).
    if (this.cached && (this.cached.pending || now - this.cached.at < ttl)) return this.cached.value;
    const value = (async (): Promise<StateSnapshot> => {
      const [migrations, transfers] = await Promise.all([
        this.sources.reader.listRecords().catch(() => null),
        this.sources.transfers ? this.sources.transfers.list().catch(() => null) : Promise.resolve(null),
      ]);
      // A failed read keeps the previous values for the gauges (the success gauge says 0).
      this.last = {
        migrations: migrations ?? this.last.migrations,
        transfers: transfers ?? this.last.transfers,
        migrationsOk: migrations !== null,
        transfersOk: transfers !== null,
      };
      return this.last;
    })();
    const entry = { at: now, value, pending: true };
    this.cached = entry;
    void value.then(() => {
      entry.pending = false;
      entry.at = Date.now();
    });
    return value;
  }
}
