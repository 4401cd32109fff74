import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interleaveByNode } from './queue-selection.js';

test("interleaveByNode takes the nodes round-robin, keeping each node's order", () => {
  const items = [
    { n: 'a1', node: 'A' },
    { n: 'a2', node: 'A' },
    { n: 'a3', node: 'A' },
    { n: 'b1', node: 'B' },
    { n: 'c1', node: 'C' },
    { n: 'c2', node: 'C' },
  ];
  assert.deepEqual(
    interleaveByNode(items, (i) => i.node).map((i) => i.n),
    ['a1', 'b1', 'c1', 'a2', 'c2', 'a3'],
  );
});

test('interleaveByNode keeps every item once; unknown nodes form one group', () => {
  const items = [1, 2, 3, 4, 5];
  const out = interleaveByNode(items, (i) => (i % 2 === 0 ? null : 'odd'));
  assert.deepEqual([...out].sort(), items);
  assert.deepEqual(out, [1, 2, 3, 4, 5]);
  assert.deepEqual(
    interleaveByNode([], () => 'x'),
    [],
  );
});
