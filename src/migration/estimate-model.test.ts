import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateRun, makespan, MIN_SPREAD, pathCosts, queueSeconds, solveRates, type Calibration } from './estimate-model.js';
import { movePath } from './move-path.js';
import { probeVhostCreatedAt, STALE_PROBE_MS } from './calibration-probe.js';
import { fitsWindow } from './fit-window.js';

const cal = (over: Partial<Calibration> = {}): Calibration => ({
  calibrated_at: '2026-12-03T10:00:00.000Z',
  concurrency: 2,
  fixed_seconds: 1,
  per_message_seconds: 0.001,
  per_mib_seconds: 2,
  shovel: { fixed_seconds: 5, per_message_seconds: 0.0001, per_mib_seconds: 3 },
  shovel_min_messages: 1000,
  run_overhead_seconds: 0.5,
  spread: 0.2,
  probe_seconds: 8,
  probe_vhost: 'qmig.probe.plan.x',
  samples: [],
  ...over,
});

test('queueSeconds: fixed + messages × per-message + MiB × per-MiB', () => {
  assert.equal(queueSeconds(cal(), { messages: 0, bytes: 0 }), 1);
  assert.equal(queueSeconds(cal(), { messages: 500, bytes: 1024 * 1024 }), 1 + 0.5 + 2, 'sidecar path (below 1000 messages)');
  assert.equal(queueSeconds(cal(), { messages: -5, bytes: -1 }), 1, 'negative sizes (broker lag) count as 0');
});

test("movePath: the engine's rule, fewer than QMIG_SHOVEL_MIN_MESSAGES → the sidecar", () => {
  assert.equal(movePath(999, 1000), 'sidecar');
  assert.equal(movePath(1000, 1000), 'shovel');
  assert.equal(movePath(0, 1000), 'sidecar');
  assert.equal(movePath(0, 0), 'shovel', '0: always shovels');
});

test('queueSeconds: each queue costs what its path costs', () => {
  assert.equal(pathCosts(cal(), 'sidecar').fixed_seconds, 1);
  assert.equal(pathCosts(cal(), 'shovel').fixed_seconds, 5);
  // 999 messages: sidecar path; 1000: shovel path (5 + 1000 × 0.0001 + 1 MiB × 3).
  assert.equal(queueSeconds(cal(), { messages: 999, bytes: 0 }), 1 + 0.999);
  assert.equal(queueSeconds(cal(), { messages: 1000, bytes: 1024 * 1024 }), 5 + 0.1 + 3);
  // The sidecar's current threshold wins over the probe's
  assert.equal(queueSeconds(cal(), { messages: 1000, bytes: 0 }, 2000), 2);
  assert.equal(queueSeconds(cal(), { messages: 10, bytes: 0 }, 0), 5 + 0.001);
  const e = estimateRun(
    cal(),
    [
      { messages: 10, bytes: 0 },
      { messages: 5000, bytes: 0 },
    ],
    2,
    0,
    1000,
  );
  assert.deepEqual(e.per_queue, [1.01, 5.5]);
  assert.equal(e.seconds, 6, 'overhead + the longer of the two workers');
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
    { messages: 500, bytes: 0 },
  ]);
  // per queue 1, 1, 1.5 → two workers: [1+1.5, 1] → 2.5; + 0.5 overhead
  assert.deepEqual(e.per_queue, [1, 1, 1.5]);
  assert.equal(e.seconds, 3);
  assert.equal(e.low_seconds, 2.4);
  assert.equal(e.high_seconds, 3.6);
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

test('probeVhostCreatedAt: the creation time a probe vhost carries in its description, null otherwise', () => {
  const t = Date.parse('2026-12-03T10:00:00.000Z');
  assert.equal(probeVhostCreatedAt('qmig calibration probe, created 2026-12-03T10:00:00.000Z'), t);
  assert.equal(probeVhostCreatedAt(''), null);
  assert.equal(probeVhostCreatedAt(undefined), null);
  assert.equal(probeVhostCreatedAt('qmig calibration probe, created yesterday'), null);
  assert.ok(STALE_PROBE_MS >= 5 * 60_000, 'far longer than a probe runs');
});
