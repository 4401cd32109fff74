import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveRegistry } from '../state/live-registry.js';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { EngineObserver, phaseLabel } from './engine-observer.js';
import { messagesMoved, migrationDuration, migrationsFinished, phaseDuration, queueDuration, queuesFinished, rollbacksFinished } from './metrics.js';

type Metric = { get(): Promise<{ values: Array<{ value: number; labels: Partial<Record<string, string | number>>; metricName?: string }> }> };

async function value(metric: Metric, labels: Record<string, string> = {}, suffix = ''): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => (suffix === '' ? !v.metricName || !/_(bucket|sum|count)$/.test(v.metricName) : v.metricName?.endsWith(suffix)))
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((n, v) => n + v.value, 0);
}

function queue(name: string, over: Partial<QueueRecord> = {}): QueueRecord {
  return {
    name,
    vhost: 'v',
    status: 'pending',
    started_at: null,
    completed_at: null,
    total_messages: 100,
    migrated_messages: 0,
    error: null,
    phase: 'pending',
    location: 'classic',
    original: null,
    detail: {},
    ...over,
  };
}

function record(id: string): MigrationRecord {
  return { id, status: 'in_progress' } as MigrationRecord;
}

test('the observer turns what a run changes into counters, from its baseline', async () => {
  let now = 0;
  const live = new LiveRegistry();
  const observer = new EngineObserver(live, { intervalMs: 60_000, now: () => now }).start();
  try {
    const base = {
      moved: await value(messagesMoved),
      completed: await value(queuesFinished, { outcome: 'completed' }),
      skipped: await value(queuesFinished, { outcome: 'skipped' }),
      failed: await value(queuesFinished, { outcome: 'failed' }),
      save: await value(phaseDuration, { phase: 'save' }, '_count'),
      saveSum: await value(phaseDuration, { phase: 'save' }, '_sum'),
      move: await value(phaseDuration, { phase: 'move_to_temporary' }, '_count'),
      qdur: await value(queueDuration, { outcome: 'completed' }, '_count'),
      finished: await value(migrationsFinished, { status: 'rollback_pending' }),
      mdur: await value(migrationDuration, { status: 'rollback_pending' }, '_count'),
    };
    const a = queue('a');
    const b = queue('b');
    const c = queue('c', { status: 'skipped', phase: 'skipped', error: 'exclusive' });
    const m = { record: record('m1'), queues: [a, b, c] };
    live.add(m); // a fresh run: its planned skip counts at once
    assert.equal(await value(queuesFinished, { outcome: 'skipped' }), base.skipped + 1);

    Object.assign(a, { status: 'in_progress', phase: 'save' });
    now = 1000;
    observer.sample();
    Object.assign(a, { phase: 'move_to_temporary', migrated_messages: 30 });
    now = 3500;
    observer.sample();
    assert.equal(await value(messagesMoved), base.moved + 30);
    assert.equal(await value(phaseDuration, { phase: 'save' }, '_count'), base.save + 1);
    assert.equal((await value(phaseDuration, { phase: 'save' }, '_sum')) - base.saveSum, 2.5);

    Object.assign(a, { status: 'completed', phase: 'done', migrated_messages: 100 });
    Object.assign(b, { status: 'failed', phase: 'move_to_temporary', migrated_messages: 10 });
    now = 4000;
    m.record.status = 'rollback_pending';
    live.remove('m1'); // the last sample happens on removal
    assert.equal(await value(messagesMoved), base.moved + 110);
    assert.equal(await value(queuesFinished, { outcome: 'completed' }), base.completed + 1);
    assert.equal(await value(queuesFinished, { outcome: 'failed' }), base.failed + 1);
    assert.equal(
      await value(phaseDuration, { phase: 'move_to_temporary' }, '_count'),
      base.move + 1,
      'a: move_to_temporary ended; b never seen in it before failing',
    );
    assert.equal(await value(queueDuration, { outcome: 'completed' }, '_count'), base.qdur + 1);
    assert.equal(await value(migrationsFinished, { status: 'rollback_pending' }), base.finished + 1);
    assert.equal(await value(migrationDuration, { status: 'rollback_pending' }, '_count'), base.mdur + 1);

    // A resumed run: what an earlier owner moved is not counted again, done queues not again.
    const movedBefore = await value(messagesMoved);
    const completedBefore = await value(queuesFinished, { outcome: 'completed' });
    const d = queue('d', { status: 'completed', phase: 'done', migrated_messages: 100 });
    const e = queue('e', { status: 'in_progress', phase: 'move_to_quorum', migrated_messages: 50 });
    live.add({ record: record('m2'), queues: [d, e] });
    Object.assign(e, { status: 'completed', phase: 'done', migrated_messages: 100 });
    observer.sample();
    assert.equal(await value(messagesMoved), movedBefore + 50);
    assert.equal(await value(queuesFinished, { outcome: 'completed' }), completedBefore + 1);

    // A run handed over (shutdown) is not counted as finished.
    const handedOver = await value(migrationsFinished);
    live.remove('m2');
    assert.equal(await value(migrationsFinished), handedOver);
  } finally {
    observer.stop();
  }
  // stop() gives the registry its own methods back.
  assert.equal(live.add, LiveRegistry.prototype.add);
});

test('a rollback that ends is counted as a finished run and as a rollback; a migration only as a run', async () => {
  const live = new LiveRegistry();
  const observer = new EngineObserver(live, { intervalMs: 60_000, now: () => 0 }).start();
  try {
    const runs = await value(migrationsFinished, { status: 'completed' });
    const rollbacks = await value(rollbacksFinished, { status: 'completed' });
    const rb = { record: { ...record('r1'), kind: 'rollback' as const, rollback_of: 'm0' }, queues: [queue('a')] };
    live.add(rb);
    rb.record.status = 'completed';
    live.remove('r1');
    const fwd = { record: record('m9'), queues: [queue('b')] };
    live.add(fwd);
    fwd.record.status = 'completed';
    live.remove('m9');
    assert.equal(await value(migrationsFinished, { status: 'completed' }), runs + 2);
    assert.equal(await value(rollbacksFinished, { status: 'completed' }), rollbacks + 1);
  } finally {
    observer.stop();
  }
});

test('phase labels are bounded', () => {
  assert.equal(phaseLabel('move_to_quorum'), 'move_to_quorum');
  assert.equal(phaseLabel('anything else'), 'other');
});
