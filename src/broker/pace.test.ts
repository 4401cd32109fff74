import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pace } from './pace.js';

test('a pace runs one task at a time, in order, at least gapMs apart; a failing task does not stop the others', async () => {
  const pace = new Pace(1, 30);
  const starts: Array<[number, number]> = [];
  let inFlight = 0;
  let most = 0;
  const task = (i: number) => async () => {
    starts.push([i, Date.now()]);
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    if (i === 1) throw new Error('boom');
    return i;
  };
  const results = await Promise.allSettled([0, 1, 2, 3].map((i) => pace.run(task(i))));
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
  );
  assert.deepEqual(
    starts.map(([i]) => i),
    [0, 1, 2, 3],
  );
  assert.equal(most, 1);
  for (let k = 1; k < starts.length; k++)
    assert.ok(starts[k][1] - starts[k - 1][1] >= 29, `start ${k} came ${starts[k][1] - starts[k - 1][1]} ms after the previous one`);
});

test('a pace of 2 runs two tasks at once', async () => {
  const pace = new Pace(2, 0);
  let inFlight = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 6 }, () =>
      pace.run(async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
      }),
    ),
  );
  assert.equal(most, 2);
});
