import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import { estimateMoveMs, estimateQueue, expiryProbability, judgeExpiringMessages, ownMoveMs, queueTtlMs, type ExpirySamples } from './expiring-messages.js';

const MODEL = { moveOverheadMs: 1000, messagesPerSecond: 1000, concurrency: 2 };
const queue = (name: string, messages: number, extra: Partial<BrokerQueue> = {}) =>
  ({ name, vhost: 'v', type: 'classic', messages, consumers: 0, arguments: {}, effective_policy_definition: { 'ha-mode': 'all' }, ...extra }) as BrokerQueue;

test('queue TTL: the lower of argument and effective policy; garbage is ignored', () => {
  assert.equal(queueTtlMs(queue('a', 1, { arguments: { 'x-message-ttl': 5000 }, effective_policy_definition: { 'message-ttl': 3000 } })), 3000);
  assert.equal(queueTtlMs(queue('a', 1, { arguments: { 'x-message-ttl': 5000 } })), 5000);
  assert.equal(queueTtlMs(queue('a', 1, { arguments: { 'x-message-ttl': '5000' }, effective_policy_definition: { 'message-ttl': -1 } })), null);
  assert.equal(queueTtlMs(queue('a', 1)), null);
});

test('move time: two moves of its own plus a share of the queues before it once the workers are busy', () => {
  assert.equal(ownMoveMs(1000, MODEL), 2 * (1000 + 1000));
  const d = estimateMoveMs(
    [
      { name: 'a', messages: 1000 },
      { name: 'b', messages: 0 },
      { name: 'c', messages: 0 },
    ],
    MODEL,
  );
  assert.equal(d.get('a'), 4000);
  assert.equal(d.get('b'), 2000); // starts at once beside 'a'
  assert.equal(d.get('c'), (4000 + 2000) / 2 + 2000);
});

test('expiry probability: none without TTL, certain when the TTL is shorter than the move, proportional otherwise', () => {
  assert.equal(expiryProbability(null, 10_000), 0);
  assert.equal(expiryProbability(0, 10_000), 1);
  assert.equal(expiryProbability(5_000, 10_000), 1);
  assert.equal(expiryProbability(40_000, 10_000), 0.25);
});

test("a queue's estimate scales the sample to its messages; the queue TTL caps each message's TTL", () => {
  // 4 sampled: two with 1 s (certain within a 2 s move), one with 8 s (1/4), one without.
  const e = estimateQueue(queue('a', 100), { sampled: 4, expirations: [1000, 1000, 8000], unreadable: 0 }, undefined, 2000);
  assert.equal(e.estimated_expiring, Math.round((100 * (1 + 1 + 0.25 + 0)) / 4));
  assert.equal(e.min_ttl_ms, 1000);
  assert.equal(e.sampled_with_expiration, 3);
  const capped = estimateQueue(queue('b', 10, { arguments: { 'x-message-ttl': 500 } }), { sampled: 2, expirations: [60_000], unreadable: 0 }, undefined, 2000);
  assert.equal(capped.estimated_expiring, 10); // both messages live at most 500 ms
  assert.equal(capped.min_ttl_ms, 500);
});

test('a queue that was not sampled is judged on its queue TTL and says why', () => {
  const e = estimateQueue(queue('a', 100, { consumers: 2, effective_policy_definition: { 'message-ttl': 8000 } }), undefined, '2 consumer(s)', 2000);
  assert.equal(e.estimated_expiring, 25);
  assert.equal(e.not_sampled, '2 consumer(s)');
  const failed = estimateQueue(queue('b', 100), { error: 'boom' }, undefined, 2000);
  assert.equal(failed.estimated_expiring, 0);
  assert.equal(failed.not_sampled, 'sample failed: boom');
});

test('the check warns naming the queues and their estimates, passes when nothing would expire, never fails', () => {
  const queues = [queue('short', 50), queue('long', 50), queue('plain', 50)];
  const gathered: ExpirySamples = {
    samples: new Map([
      ['short', { sampled: 5, expirations: [100, 100, 100, 100, 100], unreadable: 0 }],
      ['long', { sampled: 5, expirations: [3_600_000], unreadable: 0 }],
      ['plain', { sampled: 5, expirations: [], unreadable: 0 }],
    ]),
    notSampled: new Map(),
  };
  const c = judgeExpiringMessages(queues, gathered, MODEL);
  assert.equal(c.check_type, 'expiring_messages');
  assert.equal(c.status, 'warning');
  assert.match(c.message, /'short' ≈50 of 50/);
  assert.doesNotMatch(c.message, /'plain'/);
  assert.equal(c.details?.queues_with_ttl, 2);
  const none = judgeExpiringMessages(
    [queue('plain', 50)],
    { samples: new Map([['plain', { sampled: 5, expirations: [], unreadable: 0 }]]), notSampled: new Map() },
    MODEL,
  );
  assert.equal(none.status, 'passed');
  assert.equal(judgeExpiringMessages([], null, MODEL).status, 'passed');
});
