import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerError } from '../errors.js';
import { believedCount, confirmedCount, SUSPECT_ZERO_MS, unreadableZero } from './confirmed-count.js';

/** A reader answering `answers` in turn, each after its delay in ms. */
function reader(answers: Array<[number | null, number]>) {
  let i = 0;
  const read = async () => {
    const [n, ms] = answers[Math.min(i++, answers.length - 1)];
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return n;
  };
  return { read, reads: () => i };
}
const noPause = { pauseMs: () => 0 };

test('a non-zero count or a missing queue is answered at once', async () => {
  const a = reader([[7, 0]]);
  assert.equal(await confirmedCount(a.read, noPause), 7);
  assert.equal(a.reads(), 1);
  const b = reader([[null, 0]]);
  assert.equal(await confirmedCount(b.read, noPause), null);
  assert.equal(b.reads(), 1);
});

test("a zero answered faster than the broker's timeout is believed at once", async () => {
  const r = reader([[0, 0]]);
  assert.equal(await confirmedCount(r.read, noPause), 0);
  assert.equal(r.reads(), 1);
});

test("slow zeros (the broker's timeout answer) are read again until the real count shows", async () => {
  const slow = SUSPECT_ZERO_MS + 30;
  const r = reader([
    [0, slow],
    [0, slow],
    [200, 0],
  ]);
  assert.equal(await confirmedCount(r.read, noPause), 200);
  assert.equal(r.reads(), 3);
  const empty = reader([
    [0, slow],
    [0, 5],
  ]);
  assert.equal(await confirmedCount(empty.read, noPause), 0);
  assert.equal(empty.reads(), 2);
});

test('zeros that stay slow end after a bounded number of readings, as 0', async () => {
  const r = reader([[0, SUSPECT_ZERO_MS + 5]]);
  assert.equal(await confirmedCount(r.read, noPause), 0);
  assert.equal(r.reads(), 12);
});

test('a timed reading is judged by the time the broker took, not by how long the call waited for its turn', async () => {
  // Queued behind other reads for longer than the broker's timeout, answered at once when sent.
  let reads = 0;
  const queued = async () => {
    reads++;
    await new Promise((r) => setTimeout(r, SUSPECT_ZERO_MS + 30));
    return { count: 0, ms: 3 };
  };
  assert.equal(await confirmedCount(queued, noPause), 0);
  assert.equal(reads, 1);
  // The broker itself was slow (its timeout answer): read again.
  const answers = [
    { count: 0, ms: SUSPECT_ZERO_MS + 2 },
    { count: 0, ms: SUSPECT_ZERO_MS + 2 },
    { count: 200, ms: 1 },
  ];
  let i = 0;
  assert.equal(await confirmedCount(async () => answers[i++], noPause), 200);
  assert.equal(i, 3);
  assert.equal(await confirmedCount(async () => ({ count: null, ms: 400 }), noPause), null);
});

test('unreadableZero: a quorum queue without a leader, with its leader offline or without a majority online cannot answer 0', () => {
  const members = ['n1', 'n2', 'n3'];
  // Measured on 3.10: a 2-member queue whose leader's node stopped reads 0 while its management row says so.
  assert.equal(unreadableZero({ type: 'quorum', leader: undefined, members: ['n1', 'n2'], online: ['n1'] }), 'it has no leader');
  assert.equal(unreadableZero({ type: 'quorum', leader: 'n2', members, online: ['n1', 'n3'] }), 'its leader n2 is not online');
  assert.equal(unreadableZero({ type: 'quorum', leader: 'n1', members, online: ['n1'] }), 'only 1 of its 3 members are online');
  assert.equal(unreadableZero({ type: 'quorum', leader: 'n1', members: ['n1', 'n2'], online: ['n1'] }), 'only 1 of its 2 members are online');
  assert.equal(unreadableZero({ type: 'quorum', leader: 'n1', members, online: ['n1', 'n2'] }), null, 'a majority with its leader: a real zero');
  assert.equal(unreadableZero({ type: 'quorum', leader: 'n1', members }), null, 'no online list: the leader decides');
  assert.equal(unreadableZero({ type: 'classic' }), null);
  assert.equal(unreadableZero(null), null, 'a queue that is gone');
});

test('believedCount: a rejected zero is a transient BrokerError; counts and believable zeros pass through without a lookup when not zero', async () => {
  let lookups = 0;
  const leaderless = async () => (lookups++, { type: 'quorum', leader: undefined, members: ['a', 'b'], online: ['a'] });
  assert.equal(await believedCount(1500, 'q', leaderless), 1500);
  assert.equal(await believedCount(null, 'q', leaderless), null);
  assert.equal(lookups, 0);
  await assert.rejects(
    believedCount(0, 'qmig.tmp.q', leaderless),
    (err: unknown) => err instanceof BrokerError && /'qmig\.tmp\.q' reads 0 messages but it has no leader/.test(err.message),
  );
  assert.equal(await believedCount(0, 'q', async () => ({ type: 'classic' })), 0);
});
