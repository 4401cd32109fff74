import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeLeftovers, type LeftoverFacts } from './leftovers.js';

const facts = (over: Partial<LeftoverFacts>): LeftoverFacts => ({ active: false, queues: new Set(), temporary: [], failedQueues: [], ...over });

test('nothing half done: passed', () => {
  assert.equal(judgeLeftovers(facts({ queues: new Set(['a', 'b']) })).status, 'passed');
});

test('a failed queue gathered back under its own name is intact; one whose messages wait in its temporary queue is a leftover with its fix', () => {
  const c = judgeLeftovers(
    facts({
      queues: new Set(['intact', 'qmig.tmp.half']),
      temporary: [{ name: 'qmig.tmp.half', messages: 5 }],
      failedQueues: [
        { queue: 'intact', migration_id: 'm1', kind: 'migration', of: null },
        { queue: 'half', migration_id: 'm1', kind: 'migration', of: null },
      ],
    }),
  );
  assert.equal(c.status, 'failed');
  assert.match(c.message, /^1 half-done queue\(s\): half: only in 'qmig\.tmp\.half'; fix: qmig repair m1 \(finish forward\) or qmig undo m1 \(undo\)$/);
  assert.equal(c.details?.count, 1);
});

test('split between the queue and its temporary queue; a failed rollback names the migration to roll back again; a gone queue', () => {
  const c = judgeLeftovers(
    facts({
      queues: new Set(['split', 'qmig.tmp.split']),
      temporary: [{ name: 'qmig.tmp.split', messages: 2 }],
      failedQueues: [
        { queue: 'split', migration_id: 'r1', kind: 'rollback', of: 'm0' },
        { queue: 'gone', migration_id: 'p1', kind: 'repair', of: 'm0' },
      ],
    }),
  );
  assert.equal(c.status, 'failed');
  assert.match(c.message, /split: split between 'split' and 'qmig\.tmp\.split'; fix: qmig undo m0 \(roll back again\)/);
  assert.match(c.message, /gone: 'gone' is gone; fix: qmig repair m0/);
});

test('a temporary queue no failed run names is a leftover; while a run is active nothing is judged', () => {
  const stray = facts({ queues: new Set(['qmig.tmp.x']), temporary: [{ name: 'qmig.tmp.x', messages: 3 }] });
  const c = judgeLeftovers(stray);
  assert.equal(c.status, 'failed');
  assert.match(c.message, /qmig\.tmp\.x: temporary queue left behind; no failed run names it: move its 3 message\(s\)/);
  assert.equal(judgeLeftovers({ ...stray, active: true }).status, 'passed');
});

test('the newest run that failed a queue names its fix', () => {
  const c = judgeLeftovers(
    facts({
      failedQueues: [
        { queue: 'q', migration_id: 'new', kind: 'migration', of: null },
        { queue: 'q', migration_id: 'old', kind: 'migration', of: null },
      ],
    }),
  );
  assert.match(c.message, /qmig repair new/);
  assert.doesNotMatch(c.message, /old/);
});
