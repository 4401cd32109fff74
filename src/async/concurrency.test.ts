import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eachAtMost } from './concurrency.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('eachAtMost: every item once, never more than the limit in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const seen: number[] = [];
  await eachAtMost(3, [1, 2, 3, 4, 5, 6, 7], async (n) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await tick(5 + (n % 3));
    seen.push(n);
    inFlight--;
  });
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(most, 3);
});

test('eachAtMost: after a failure nothing new starts, the calls in flight finish, the first error is thrown', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  await assert.rejects(
    eachAtMost(2, [1, 2, 3, 4, 5], async (n) => {
      started.push(n);
      if (n === 1) throw new Error('first');
      await tick(20);
      if (n === 2) throw new Error('second');
      finished.push(n);
    }),
    /first/,
  );
  // 1 failed at once: 2 was in flight (and finished failing); nothing after 2 was started.
  assert.deepEqual(started, [1, 2]);
  assert.deepEqual(finished, []);
});

test('eachAtMost: no items, no calls', async () => {
  await eachAtMost(4, [], async () => assert.fail('called'));
});
