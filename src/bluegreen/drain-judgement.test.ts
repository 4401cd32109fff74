import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideDrain, idleForMs, idleLongEnough, judgeQueue, parseTimestamp, timestampOf } from './drain-judgement.js';

const T0 = parseTimestamp('2026-12-03 10:00:00');
const empty = { messages: 0, consumers: 0, publish: 7 };

test('the first sample has no publish baseline: not idle yet, counter remembered', () => {
  const j = judgeQueue({ idle_since: null, publish_count: null }, empty, T0);
  assert.deepEqual(j, { idle: false, publishing: false, idle_since: null, publish_count: 7 });
});

test('empty, no consumer, counter unchanged: idle since now, and the start is kept while it stays idle', () => {
  const first = judgeQueue({ idle_since: null, publish_count: 7 }, empty, T0);
  assert.equal(first.idle, true);
  assert.equal(first.idle_since, '2026-12-03 10:00:00');
  const later = judgeQueue(first, empty, T0 + 5000);
  assert.equal(later.idle_since, '2026-12-03 10:00:00');
});

test('a publish, a message or a consumer ends idleness', () => {
  const idle = { idle_since: '2026-12-03 09:59:00', publish_count: 7 };
  const published = judgeQueue(idle, { ...empty, publish: 8 }, T0);
  assert.deepEqual([published.idle, published.publishing, published.idle_since], [false, true, null]);
  assert.equal(judgeQueue(idle, { ...empty, messages: 1 }, T0).idle, false);
  assert.equal(judgeQueue(idle, { ...empty, consumers: 1 }, T0).idle, false);
  // A counter that went down (statistics reset) is not silence.
  assert.equal(judgeQueue(idle, { ...empty, publish: 0 }, T0).publishing, true);
});

test('idle long enough: every watched queue, continuously, one second of truncation taken off', () => {
  assert.equal(idleForMs(null, T0), 0);
  assert.equal(idleForMs(timestampOf(T0), T0 + 3000), 2000);
  const q = (since: string | null) => ({ idle_since: since });
  assert.equal(idleLongEnough([q('2026-12-03 09:59:57'), q('2026-12-03 09:59:50')], 2, T0), true);
  assert.equal(idleLongEnough([q('2026-12-03 09:59:58'), q('2026-12-03 09:59:50')], 2, T0), false);
  assert.equal(idleLongEnough([q(null), q('2026-12-03 09:59:50')], 2, T0), false);
  assert.equal(idleLongEnough([], 2, T0), true);
});

test('decide: cancel wins, cut-over only once asked and idle long enough, ended drains are left alone', () => {
  const base = { status: 'draining' as const, cancelRequested: false, cutoverRequested: false, idleLongEnough: true };
  assert.equal(decideDrain(base), 'watch');
  assert.equal(decideDrain({ ...base, cutoverRequested: true }), 'cut_over');
  assert.equal(decideDrain({ ...base, status: 'cutting_over' }), 'cut_over');
  assert.equal(decideDrain({ ...base, status: 'cutting_over', idleLongEnough: false }), 'watch');
  assert.equal(decideDrain({ ...base, cutoverRequested: true, cancelRequested: true }), 'cancel');
  assert.equal(decideDrain({ ...base, status: 'completed', cancelRequested: true }), 'watch');
});
