/**
 * GET /metrics of a sidecar on the real cluster, scraped before, during and after a real
 * migration (held at a known point by the engine's test hook, so that "during" is certain):
 * the state gauges, the observed counters and histograms, the check results and the broker
 * API latency change as they must.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MigrationService } from '../../src/migration/migration-service.js';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin } from '../support/cluster.js';
import { publish } from '../support/messages.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { classicQueue, waitSynchronised } from './migration-support.js';
import { testSeal } from '../support/state-secret.js';

type Samples = Map<string, number>;

/** Prometheus text → `name{labels}` → value (labels as exposed, in prom-client's order). */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

async function scrape(sidecar: TestSidecar): Promise<Samples> {
  const res = await fetch(sidecar.url + '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

const v = (s: Samples, key: string) => s.get(key) ?? 0;

/** Sum of every series of `name` whose labels include all of `labels` (e.g. 'endpoint="shovels"'). */
function sum(s: Samples, name: string, ...labels: string[]): number {
  let n = 0;
  for (const [k, value] of s) {
    if (!(k === name || k.startsWith(name + '{'))) continue;
    if (labels.every((l) => k.includes(l))) n += value;
  }
  return n;
}

async function until(sidecar: TestSidecar, what: string, ok: (s: Samples) => boolean, timeoutMs = 60_000): Promise<Samples> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(sidecar);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const QUEUES = [
  { name: 'm-a', messages: 2000 },
  { name: 'm-b', messages: 1000 },
  { name: 'm-c', messages: 700 },
  { name: 'm-d', messages: 300 },
];
const TOTAL = QUEUES.reduce((n, q) => n + q.messages, 0);

test('/metrics during and after a migration', { timeout: 240_000 }, async (t) => {
  const vhost = await testVhost(t);
  await mirrorPolicy(vhost);
  for (const [i, q] of QUEUES.entries()) {
    await classicQueue(vhost, q.name, {}, i % 3);
    await publish(vhost, { queue: q.name }, q.messages);
  }
  await waitSynchronised(vhost, 180_000); // generous: the machine is shared

  // Every queue waits before its second move until the test has looked ("during").
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = new Set<string>();
  // The migration records of this vhost are deleted after the test (they are cluster-wide).
  t.after(async () => {
    const store = new MigrationStore(admin(), testSeal());
    for (const r of (await store.listRecords().catch(() => [])).filter((x) => x.vhost === vhost)) await store.delete(r).catch(() => undefined);
  });
  const sidecar = await startTestSidecar(t, {
    env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', QMIG_STATE_VHOST: vhost },
    engine: (ctx) =>
      new MigrationService(ctx, {
        hooks: {
          async beforeStep({ queue, step }) {
            if (step !== 'move_to_quorum') return;
            held.add(queue);
            await gate;
          },
        },
      }),
  });

  const before = await scrape(sidecar);
  assert.equal(v(before, 'qmig_state_read_success{source="migrations"}'), 1);
  assert.equal(v(before, 'qmig_state_read_success{source="transfers"}'), 1);
  assert.ok(before.has('process_resident_memory_bytes'), 'process metrics are exposed');

  // --- a compatibility check is counted by type and status -----------------------------------
  const check = await sidecar.api(`/api/queue-migration/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
  assert.equal(check.status, 200);
  await check.arrayBuffer();
  const afterCheck = await scrape(sidecar);
  const checkKey = (type: string, status: string) => `qmig_check_results_total{check_type="${type}",status="${status}"}`;
  assert.equal(v(afterCheck, checkKey('relaxed_checks_setting', 'warning')) - v(before, checkKey('relaxed_checks_setting', 'warning')), 1);
  assert.equal(v(afterCheck, checkKey('shovel_plugin', 'passed')) - v(before, checkKey('shovel_plugin', 'passed')), 1);
  // The broker calls of the check were timed.
  assert.ok(
    sum(afterCheck, 'qmig_broker_request_duration_seconds_count', 'endpoint="queues"') >
      sum(before, 'qmig_broker_request_duration_seconds_count', 'endpoint="queues"'),
  );

  let id: string | null = null;
  try {
    // --- during --------------------------------------------------------------------------------
    const start = await sidecar.api(`/api/queue-migration/start/${encodeURIComponent(vhost)}`, { method: 'POST' });
    assert.equal(start.status, 200);
    id = ((await start.json()) as { migration_id: string }).migration_id;
    const during = await until(
      sidecar,
      'the held migration with half of its messages moved, counted as in progress',
      // The state gauges are read through a cache of up to a second: wait for them too (the run
      // stays held until the test releases it, so "during" cannot pass by).
      (s) =>
        held.size === QUEUES.length &&
        v(s, 'qmig_messages_moved_total') - v(before, 'qmig_messages_moved_total') >= TOTAL / 2 - QUEUES.length &&
        v(s, 'qmig_migration_in_progress') === 1,
    );
    assert.equal(v(during, 'qmig_migration_in_progress'), 1);
    assert.ok(v(during, 'qmig_migrations{status="in_progress"}') >= 1);
    assert.ok(v(during, 'qmig_migration_queues{status="in_progress"}') >= QUEUES.length, 'the held queues are in progress');
    const movedDuring = v(during, 'qmig_messages_moved_total') - v(before, 'qmig_messages_moved_total');
    assert.ok(movedDuring < TOTAL, `not everything moved yet (${movedDuring})`);
    assert.ok(v(during, 'qmig_active_migration_progress_ratio') < 1);
    // The status reads of the reader (migration records are global parameters) were timed.
    assert.ok(
      sum(during, 'qmig_broker_request_duration_seconds_count', 'endpoint="global-parameters"') >
        sum(before, 'qmig_broker_request_duration_seconds_count', 'endpoint="global-parameters"'),
    );

    // --- after ---------------------------------------------------------------------------------
    // The held phase lasts well beyond the observer's 200 ms sampling before it ends.
    await new Promise((r) => setTimeout(r, 600));
    release();
    const finished = 'qmig_migrations_finished_total{status="completed"}';
    const after = await until(sidecar, 'the finished migration', (s) => v(s, finished) - v(before, finished) === 1, 120_000);
    const status = (await (await sidecar.api(`/api/queue-migration/status/${id}`)).json()) as { migration: { status: string } };
    assert.equal(status.migration.status, 'completed');

    assert.equal(v(after, 'qmig_messages_moved_total') - v(before, 'qmig_messages_moved_total'), TOTAL, 'every message counted once');
    assert.equal(v(after, 'qmig_queue_migrations_total{outcome="completed"}') - v(before, 'qmig_queue_migrations_total{outcome="completed"}'), QUEUES.length);
    assert.equal(
      v(after, 'qmig_queue_migration_duration_seconds_count{outcome="completed"}') -
        v(before, 'qmig_queue_migration_duration_seconds_count{outcome="completed"}'),
      QUEUES.length,
    );
    assert.equal(
      v(after, 'qmig_migration_duration_seconds_count{status="completed"}') - v(before, 'qmig_migration_duration_seconds_count{status="completed"}'),
      1,
    );
    // The held phase (the queue waited before its second move) was timed for every queue.
    assert.ok(
      v(after, 'qmig_migration_phase_duration_seconds_count{phase="declare_quorum"}') -
        v(before, 'qmig_migration_phase_duration_seconds_count{phase="declare_quorum"}') >=
        QUEUES.length,
    );
    assert.ok(v(after, 'qmig_migrations{status="completed"}') >= 1);
    assert.equal(
      sum(after, 'qmig_broker_errors_total', 'kind="unreachable"') - sum(before, 'qmig_broker_errors_total', 'kind="unreachable"'),
      0,
      'no broker request was lost',
    );
  } finally {
    // Never leave a held run behind: a sidecar closing under it would leave an active record.
    release();
    if (id) await (sidecar.engine as MigrationService).whenFinished(id);
  }
});
