import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialKey, LoginRateLimiter } from './login-rate-limiter.js';

const wrong = (n: number) => credentialKey('alice', `wrong-${n}`);

test('per user name: `limit` free failures, then a back-off doubling from 1 s up to 60 s, from any address', () => {
  let now = 1_000_000;
  const limiter = new LoginRateLimiter(3, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.check(`10.0.0.${i}`, 'alice', wrong(i), 'api'), null, `attempt ${i + 1}`);
    limiter.recordFailure(`10.0.0.${i}`, 'alice', 'api');
  }
  assert.deepEqual(limiter.check('10.9.9.9', 'alice', wrong(9), 'proxy'), { limit: 'user', retryAfterSeconds: 1 });
  assert.equal(limiter.check('10.9.9.9', 'bob', credentialKey('bob', 'x'), 'api'), null, 'other user names are not affected');
  const waits: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = limiter.check('10.0.0.1', 'alice', wrong(i), 'api');
    waits.push(r!.retryAfterSeconds);
    now += r!.retryAfterSeconds * 1000; // waits, then fails again
    assert.equal(limiter.check('10.0.0.1', 'alice', wrong(i), 'api'), null, 'after the wait an attempt goes through');
    limiter.recordFailure('10.0.0.1', 'alice', 'api');
  }
  assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
  now += LoginRateLimiter.FORGET_MS + 1;
  assert.equal(limiter.check('10.0.0.1', 'alice', wrong(0), 'api'), null, 'strikes are forgotten');
});

test('per address: back-off after limit × ADDRESS_FACTOR failures; names that logged in from there and proven credentials pass', () => {
  let now = 5_000_000;
  const limiter = new LoginRateLimiter(2, () => now);
  limiter.recordSuccess('10.0.0.7', 'operator', credentialKey('operator', 'right'));
  const spray = 2 * LoginRateLimiter.ADDRESS_FACTOR;
  for (let i = 0; i < spray; i++) {
    assert.equal(limiter.check('10.0.0.7', `user${i}`, credentialKey(`user${i}`, 'guess'), 'api'), null);
    limiter.recordFailure('10.0.0.7', `user${i}`, 'api');
  }
  assert.equal(limiter.check('10.0.0.7', 'newcomer', credentialKey('newcomer', 'pw'), 'api')?.limit, 'address');
  assert.equal(limiter.check('10.0.0.8', 'newcomer', credentialKey('newcomer', 'pw'), 'api'), null, 'other addresses are not affected');
  assert.equal(
    limiter.check('10.0.0.7', 'operator', credentialKey('operator', 'other-password'), 'api'),
    null,
    'a name that logged in from this address is not held by the address limit',
  );
  // The operator's name is attacked: its own proven credentials still pass.
  for (let i = 0; i < 5; i++) limiter.recordFailure('10.6.6.6', 'operator', 'api');
  assert.equal(limiter.check('10.0.0.7', 'operator', credentialKey('operator', 'guess'), 'api')?.limit, 'user');
  assert.equal(limiter.check('10.0.0.7', 'operator', credentialKey('operator', 'right'), 'api'), null);
  assert.ok(limiter.isVerified(credentialKey('operator', 'right')));
  now += LoginRateLimiter.TRUST_MS + 1;
  assert.equal(limiter.isVerified(credentialKey('operator', 'right')), false, 'trust expires');
});
