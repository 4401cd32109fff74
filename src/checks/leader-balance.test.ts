import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import { checkLeaderBalance, leaderBalance, LEADERS_IMBALANCED_REASON } from './leader-balance.js';

const NODES = ['n1', 'n2', 'n3'];
function queuesOn(counts: Record<string, number>): BrokerQueue[] {
  const out: BrokerQueue[] = [];
  for (const [node, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++)
      out.push({
        name: `${node}-q${i}`,
        vhost: 'v',
        durable: true,
        auto_delete: false,
        arguments: {},
        node,
        effective_policy_definition: { 'ha-mode': 'all' },
      });
  }
  return out;
}

test('ratio max/min over non-empty nodes: 6/4/5 = 1.5 is balanced at 1.6', () => {
  const b = leaderBalance(queuesOn({ n1: 6, n2: 4, n3: 5 }), NODES, 1.6);
  assert.equal(b.imbalance_ratio, 1.5);
  assert.equal(b.min_masters, 4);
  assert.equal(b.max_masters, 6);
  assert.equal(b.balanced, true);
});

test('ratio 7/4 = 1.75 exceeds 1.6: imbalanced, with the spec message', () => {
  const c = checkLeaderBalance(queuesOn({ n1: 7, n2: 4, n3: 4 }), NODES, 1.6);
  assert.equal(c.status, 'failed');
  assert.equal(c.message, LEADERS_IMBALANCED_REASON);
  assert.equal(c.details?.imbalance_ratio, 1.75);
  assert.deepEqual(c.details?.distribution, { n1: 7, n2: 4, n3: 4 });
});

test('exactly at the threshold (8/5 = 1.6) is still balanced', () => {
  assert.equal(leaderBalance(queuesOn({ n1: 8, n2: 5, n3: 5 }), NODES, 1.6).balanced, true);
});

test('everything on one node is imbalanced: empty running nodes count once queues >= nodes', () => {
  const b = leaderBalance(queuesOn({ n1: 12 }), NODES, 1.6);
  assert.equal(b.balanced, false);
  assert.equal(b.imbalance_ratio, null);
  assert.deepEqual(b.nodes_without_masters, ['n2', 'n3']);
  assert.equal(b.min_masters, 0);
});

test('one empty node among three with 6/6/0 is imbalanced even though max/min over non-empty is 1', () => {
  assert.equal(leaderBalance(queuesOn({ n1: 6, n2: 6 }), NODES, 1.6).balanced, false);
});

test('an empty node does not count when there are fewer queues than running nodes', () => {
  const many = Array.from({ length: 12 }, (_, i) => `n${i + 1}`);
  const b = leaderBalance(queuesOn({ n1: 1, n2: 1, n3: 1, n4: 1, n5: 1, n6: 1, n7: 1, n8: 1, n9: 1, n10: 1 }), many, 1.6);
  assert.equal(b.balanced, true);
  assert.deepEqual(b.nodes_without_masters, []);
});

test('under 10 queues the balance is not judged', () => {
  const c = checkLeaderBalance(queuesOn({ n1: 9 }), NODES, 1.6);
  assert.equal(c.status, 'passed');
  assert.match(c.message, /not judged: only 9 mirrored queue/);
  assert.equal(checkLeaderBalance(queuesOn({ n1: 10 }), NODES, 1.6).status, 'failed');
});

test('a configurable ratio and minimum', () => {
  assert.equal(checkLeaderBalance(queuesOn({ n1: 7, n2: 4, n3: 4 }), NODES, 2).status, 'passed');
  assert.equal(checkLeaderBalance(queuesOn({ n1: 3 }), NODES, 1.6, 3).status, 'failed');
});
