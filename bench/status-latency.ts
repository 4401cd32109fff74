/**
 * Figure 3: GET status and GET status/:id of a migration record with 10,000 queues, p50/p99 at
 * 200 requests per second, from a load client in its own process, against a sidecar in its own
 * process; compared in the same run with the broker's own GET /api/overview at the same rate.
 * Two records are written into the broker-held store (no real queues are needed for reading):
 *   - a finished (completed) migration;
 *   - a migration in progress owned by ANOTHER sidecar (guarded in another state vhost, so that
 *     nobody resumes it): this sidecar re-reads its 50 chunks from the broker every second.
 * Target: p99 ≤ 25 ms. BENCH_STATUS_QUEUES / BENCH_STATUS_RATE / BENCH_STATUS_SECONDS override.
 */
import { newMigrationId, displayId } from '../src/state/migration-id.js';
import { MigrationStore } from '../src/state/migration-store.js';
import { timestamp, type MigrationRecord, type QueueRecord } from '../src/state/records.js';
import {
  api,
  AUTH,
  benchSeal,
  deleteVhost,
  freshVhost,
  MGMT_URLS,
  mgmt,
  runLoad,
  startSidecarProcess,
  type LoadResult,
  type SidecarProcess,
} from './bench-support.js';
import type { Figure } from './figure.js';

const QUEUES = Number(process.env.BENCH_STATUS_QUEUES ?? 10_000);
const RATE = Number(process.env.BENCH_STATUS_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_STATUS_SECONDS ?? 10);

/** A migration record of `QUEUES` queues as the engine writes it (no real queues behind it). */
export function fakeMigration(
  vhost: string,
  node: string,
  status: 'completed' | 'in_progress',
  owner: string,
  lockVhost: string,
  count = QUEUES,
): { record: MigrationRecord; queues: QueueRecord[] } {
  const now = new Date();
  const ts = timestamp(now);
  const done = status === 'completed';
  const queues: QueueRecord[] = Array.from({ length: count }, (_, i) => {
    const completed = done || i < count / 2;
    return {
      name: `orders.region-${i % 17}.shard-${String(i).padStart(5, '0')}`,
      vhost,
      status: completed ? 'completed' : i < count / 2 + 6 ? 'in_progress' : 'pending',
      started_at: completed ? ts : null,
      completed_at: completed ? ts : null,
      total_messages: 1000 + (i % 500),
      migrated_messages: completed ? 1000 + (i % 500) : 0,
      error: null,
      phase: completed ? 'done' : 'pending',
      location: completed ? 'quorum' : 'classic',
      original: null,
      detail: { node, temporary_queue: `qmig.tmp.orders.region-${i % 17}.shard-${String(i).padStart(5, '0')}` },
    };
  });
  const record: MigrationRecord = {
    id: newMigrationId(node, now),
    display_id: displayId(vhost, ts, node),
    vhost,
    node,
    started_at: ts,
    completed_at: done ? ts : null,
    total_queues: count,
    completed_queues: done ? count : count / 2,
    skipped_queues: 0,
    failed_queues: 0,
    status,
    skip_unsuitable_queues: false,
    tolerance: null,
    error: null,
    snapshots: [],
    options: {
      skip_unsuitable_queues: false,
      tolerance: null,
      batch_size: 'all',
      batch_order: 'smallest_first',
      queue_names: null,
      allow_message_ttl: false,
      set_default_queue_type: null,
    },
    owner,
    queue_chunks: 0,
    interrupt_requested: false,
    notes: [],
    engine: { started_by: 'bench', lock_vhost: lockVhost },
    updated_at: ts,
  };
  return { record, queues };
}

const line = (r: LoadResult) =>
  `${r.label}: p50 ${r.p50} ms, p90 ${r.p90} ms, p99 ${r.p99} ms, max ${r.max} ms; ${r.ok}/${r.sent} ok, ${r.errors} errors, ${(r.bytes / Math.max(1, r.ok) / 1024).toFixed(1)} KiB each`;

export async function statusLatency(): Promise<Figure> {
  const vhost = await freshVhost('status');
  const store = new MigrationStore(mgmt, benchSeal());
  const node = (await mgmt.overview()).node as string;
  const finished = fakeMigration(vhost, node, 'completed', 'bench-finished', vhost);
  const foreign = fakeMigration(vhost, node, 'in_progress', 'another-sidecar/1/bench', `${vhost}-elsewhere`);
  let sidecar: SidecarProcess | null = null;
  try {
    console.log(`[3] writing two ${QUEUES}-queue migration records …`);
    await store.create(finished.record, finished.queues);
    await store.create(foreign.record, foreign.queues);
    sidecar = await startSidecarProcess(vhost);
    const statusUrl = `${sidecar.url}/api/queue-migration/status`;
    for (const id of [finished.record.id, foreign.record.id]) {
      const r = await api(`${statusUrl}/${id}`, 'GET');
      if (r.status !== 200 || r.body.queues.length !== QUEUES) throw new Error(`status/${id}: ${r.status}`);
    }
    console.log(`[3] ${RATE} req/s for ${SECONDS} s each (after 2 s of warm-up), load client in its own process …`);
    const results: LoadResult[] = [];
    results.push(await runLoad('GET /api/overview (broker, node 1)', `${MGMT_URLS[0]}/api/overview`, RATE, SECONDS, 2, AUTH));
    results.push(await runLoad('GET status', statusUrl, RATE, SECONDS));
    results.push(await runLoad(`GET status/:id (finished, ${QUEUES} queues)`, `${statusUrl}/${finished.record.id}`, RATE, SECONDS));
    results.push(await runLoad(`GET status/:id (in progress, owned by another sidecar, ${QUEUES} queues)`, `${statusUrl}/${foreign.record.id}`, RATE, SECONDS));
    const ours = results.slice(1);
    const worst = Math.max(...ours.map((r) => r.p99));
    const overview = results[0];
    return {
      id: '3',
      name: `GET status and status/:id of a ${QUEUES}-queue migration at ${RATE} req/s`,
      value: `p99 ≤ ${worst} ms (broker /api/overview p99 ${overview.p99} ms)`,
      target: 'p99 ≤ 25 ms',
      met: worst <= 25 && ours.every((r) => r.errors === 0),
      details: results.map(line),
    };
  } finally {
    await sidecar?.stop();
    await store.delete(finished.record).catch(() => undefined);
    await store.delete(foreign.record).catch(() => undefined);
    await deleteVhost(vhost);
  }
}
