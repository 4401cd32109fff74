import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginRateLimiter } from './login-rate-limiter.js';

test('allows `limit` failed attempts per minute, refuses further ones, and frees the address when they age out', () => {
  let now = 1_000_000;
  const limiter = new LoginRateLimiter(3, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.retryAfterSeconds('10.0.0.1'), 0, `attempt ${i + 1} is allowed`);
    limiter.recordFailure('10.0.0.1');
    now += 1000;
  }
  const wait = limiter.retryAfterSeconds('10.0.0.1');
  assert.ok(wait > 50 && wait <= 60, `retry after ${wait}`);
  now += 57_500; // the first failure is now a minute old, the other two are not
  assert.equal(limiter.retryAfterSeconds('10.0.0.1'), 0);
  limiter.recordFailure('10.0.0.1');
  assert.ok(limiter.retryAfterSeconds('10.0.0.1') > 0, 'three failures within the minute again');
  assert.equal(limiter.retryAfterSeconds('10.0.0.2'), 0, 'other addresses are not affected');
  now += 61_000;
  assert.equal(limiter.retryAfterSeconds('10.0.0.1'), 0);
});
