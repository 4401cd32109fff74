import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BlueGreenDrainQueueView, BlueGreenDrainView } from '../api-types.js';
import { queueWait, waitingFor } from './bluegreen-drain.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

function queue(name: string, over: Partial<BlueGreenDrainQueueView> = {}, source: Partial<BlueGreenDrainQueueView['source']> = {}): BlueGreenDrainQueueView {
  return {
    name,
    state: 'idle',
    source: { messages: 0, consumers: 0, publishing: false, idle_since: '2026-12-03 11:59:00', removed: false, ...source },
    target: { messages: 5, consumers: 1 },
    link: { state: 'running', reason: null },
    ...over,
  };
}

function drain(queues: BlueGreenDrainQueueView[], idle = 30): BlueGreenDrainView {
  return {
    drain_id: 'd1',
    vhost: 'v',
    target: 'http://t',
    target_cluster_name: 't',
    status: 'cutting_over',
    reason: 'r',
    who: 'guest',
    started_at: '2026-12-03T11:00:00Z',
    ended_at: null,
    idle_seconds: idle,
    remove_source_queues: false,
    target_shovel_user: 'u',
    cutover_requested_at: '2026-12-03T11:58:00Z',
    cancel_requested_at: null,
    error: null,
    totals: { queues: queues.length, idle_queues: 0, source_messages: 0, target_messages: 0 },
    queues,
  };
}

test('a queue idle for longer than the idle time is not waited for', () => {
  assert.equal(queueWait(queue('a'), 30, NOW), null);
  assert.deepEqual(waitingFor(drain([queue('a')]), NOW), []);
});

test('a queue idle for less than the idle time says for how long it has been idle (API times are UTC, whatever the local zone)', () => {
  assert.equal(queueWait(queue('a', {}, { idle_since: '2026-12-03 11:59:50' }), 30, NOW), 'a: idle for 10 of 30 s');
});

test('every reason a queue is not idle is named, and a stuck link only while messages wait', () => {
  const busy = queue(
    'b',
    { state: 'draining', link: { state: 'terminated', reason: 'ACCESS_REFUSED' } },
    { messages: 3, consumers: 2, publishing: true, idle_since: null },
  );
  assert.equal(
    queueWait(busy, 30, NOW),
    'b: 3 message(s) left at the source, 2 consumer(s) still on the source, still published to at the source, link terminated (ACCESS_REFUSED)',
  );
  const emptyButLinkDown = queue('c', { state: 'draining', link: { state: 'starting', reason: null } }, { consumers: 1, idle_since: null });
  assert.equal(queueWait(emptyButLinkDown, 30, NOW), 'c: 1 consumer(s) still on the source');
});

test('queues that reached an end are never waited for', () => {
  for (const state of ['done', 'cancelled', 'failed'] as const) assert.equal(queueWait(queue('d', { state }, { messages: 4 }), 30, NOW), null);
  assert.deepEqual(waitingFor(drain([queue('x', { state: 'done' }), queue('y', { state: 'draining' }, { messages: 1, idle_since: null })]), NOW), [
    'y: 1 message(s) left at the source',
  ]);
});
