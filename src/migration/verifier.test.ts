import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowance, toleranceFor, verifyCount } from './verifier.js';

const defaults = toleranceFor({ tolerance: null, allow_message_ttl: false });

test('defaults: 0 % under, 5 % over, no shortfall allowed', () => {
  assert.deepEqual(defaults, { underPercent: 0, overPercent: 5, allowShortfall: false });
});

test('the request tolerance sets both sides; allow_message_ttl allows any shortfall', () => {
  assert.deepEqual(toleranceFor({ tolerance: 10, allow_message_ttl: false }), { underPercent: 10, overPercent: 10, allowShortfall: false });
  assert.deepEqual(toleranceFor({ tolerance: 0, allow_message_ttl: true }), { underPercent: 0, overPercent: 0, allowShortfall: true });
});

test('exact counts pass without a message; one missing fails at 0 %', () => {
  assert.deepEqual(verifyCount(10, 10, defaults), { ok: true, expected: 10, actual: 10, min: 10, max: 10, message: null });
  const v = verifyCount(10, 9, defaults);
  assert.equal(v.ok, false);
  assert.match(v.message!, /destination has 9 of 10 messages/);
});

test('over: 5 % of 100 is 5 messages; 5 % of 10 rounds down to none', () => {
  assert.equal(verifyCount(100, 105, defaults).ok, true);
  assert.match(verifyCount(100, 105, defaults).message!, /5 more message/);
  assert.equal(verifyCount(100, 106, defaults).ok, false);
  assert.equal(verifyCount(10, 11, defaults).ok, false);
});

test('a 10 % tolerance accepts 9 of 10 and 11 of 10, not 8 or 12', () => {
  const t = toleranceFor({ tolerance: 10, allow_message_ttl: false });
  assert.equal(verifyCount(10, 9, t).ok, true);
  assert.match(verifyCount(10, 9, t).message!, /within the 10% tolerance/);
  assert.equal(verifyCount(10, 11, t).ok, true);
  assert.equal(verifyCount(10, 8, t).ok, false);
  assert.equal(verifyCount(10, 12, t).ok, false);
});

test('allow_message_ttl accepts any shortfall and says so', () => {
  const t = toleranceFor({ tolerance: null, allow_message_ttl: true });
  const v = verifyCount(1000, 1, t, 'quorum queue');
  assert.equal(v.ok, true);
  assert.match(v.message!, /999 of 1000 messages missing, accepted because allow_message_ttl/);
  assert.equal(verifyCount(1000, 1051, t).ok, false);
});

test('allowance avoids floating point surprises and never goes negative', () => {
  assert.equal(allowance(10, 10), 1);
  assert.equal(allowance(3, 33.34), 1);
  assert.equal(allowance(0, 50), 0);
  assert.equal(allowance(7, 0), 0);
});

test('an empty queue that stays empty passes; one that gains a message fails', () => {
  assert.equal(verifyCount(0, 0, defaults).ok, true);
  assert.equal(verifyCount(0, 1, defaults).ok, false);
});
