import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateRun, makespan, MIN_SPREAD, queueSeconds, solveRates, type Calibration } from './estimate-model.js';
import { fitsWindow } from './fit-window.js';

const cal = (over: Partial<Calibration> = {}): Calibration => ({
  calibrated_at: '2026-12-03T10:00:00.000Z',
  concurrency: 2,
  fixed_seconds: 1,
  per_message_seconds: 0.001,
  per_mib_seconds: 2,
  run_overhead_seconds: 0.5,
  spread: 0.2,
  probe_seconds: 8,
  probe_vhost: 'qmig.probe.plan.x',
  samples: [],
  ...over,
});

test('queueSeconds: fixed + messages × per-message + MiB × per-MiB', () => {
  assert.equal(queueSeconds(cal(), { messages: 0, bytes: 0 }), 1);
  assert.equal(queueSeconds(cal(), { messages: 1000, bytes: 1024 * 1024 }), 1 + 1 + 2);
  assert.equal(queueSeconds(cal(), { messages: -5, bytes: -1 }), 1, 'negative sizes (broker lag) count as 0');
});

test('makespan: list scheduling in order, N workers', () => {
  assert.equal(makespan([], 3), 0);
  assert.equal(makespan([5], 3), 5);
  assert.equal(makespan([1, 1, 1, 1], 2), 2);
  // In order: worker A takes 4, B takes 1, then 1 → B, 1 → B (B at 3), 4 → B (free first at 3) = 7.
  assert.equal(makespan([4, 1, 1, 1, 4], 2), 7);
  assert.equal(makespan([3, 3, 3], 1), 9);
});

test('estimateRun: overhead + makespan, range from the spread (at least MIN_SPREAD)', () => {
  const e = estimateRun(cal(), [
    { messages: 0, bytes: 0 },
    { messages: 0, bytes: 0 },
    { messages: 1000, bytes: 0 },
  ]);
  // per queue 1, 1, 2 → two workers: [1+2, 1] → 3; + 0.5 overhead
  assert.deepEqual(e.per_queue, [1, 1, 2]);
  assert.equal(e.seconds, 3.5);
  assert.equal(e.low_seconds, 2.8);
  assert.equal(e.high_seconds, 4.2);
  const narrow = estimateRun(cal({ spread: 0.01 }), [{ messages: 0, bytes: 0 }], 1, 1.5);
  assert.equal(narrow.seconds, 3, 'extra overhead (the start check) is added');
  assert.equal(narrow.high_seconds, Math.round(3 * (1 + MIN_SPREAD) * 100) / 100);
  assert.equal(estimateRun(cal(), []).seconds, 0.5, 'no queue: the overhead only');
});

test('solveRates: recovers both terms, falls back to one when the system gives a negative', () => {
  const r = solveRates(1, { seconds: 1 + 3000 * 0.0002 + 0.3 * 1, messages: 3000, mib: 0.3 }, { seconds: 1 + 300 * 0.0002 + 9.4 * 1, messages: 300, mib: 9.4 });
  assert.ok(Math.abs(r.per_message_seconds - 0.0002) < 1e-9);
  assert.ok(Math.abs(r.per_mib_seconds - 1) < 1e-9);
  const noisy = solveRates(1, { seconds: 1.6, messages: 3000, mib: 0.3 }, { seconds: 1.05, messages: 300, mib: 9.4 });
  assert.ok(noisy.per_message_seconds >= 0 && noisy.per_mib_seconds >= 0);
  const flat = solveRates(2, { seconds: 1, messages: 3000, mib: 0.3 }, { seconds: 1.5, messages: 300, mib: 9.4 });
  assert.deepEqual(flat, { per_message_seconds: 0, per_mib_seconds: 0 }, 'faster than the fixed cost: no size term');
});

test('fitsWindow: the central estimate against the window', () => {
  const now = new Date('2026-12-03T10:00:00Z');
  assert.deepEqual(fitsWindow({ seconds: 60 }, now, new Date('2026-12-03T10:01:00Z')), { fits: true, needed_seconds: 60, available_seconds: 60 });
  assert.equal(fitsWindow({ seconds: 61 }, now, new Date('2026-12-03T10:01:00Z')).fits, false);
  assert.equal(fitsWindow({ seconds: 1 }, now, new Date('2026-12-03T09:59:00Z')).fits, false, 'a window already closed');
});
