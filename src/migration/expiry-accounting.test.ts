import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countExpired, type ExpiryInput } from './expiry-accounting.js';

const base: ExpiryInput = { expected: 10, actual: 7, fenced: true, queueTtl: false, expirationsSeen: 3, where: 'temporary queue' };

test('nothing is counted without a shortfall, without the fence, or without evidence that messages can expire', () => {
  assert.equal(countExpired({ ...base, actual: 10 }), null);
  assert.equal(countExpired({ ...base, actual: 12 }), null);
  assert.equal(countExpired({ ...base, fenced: false }), null);
  assert.equal(countExpired({ ...base, expirationsSeen: 0 }), null);
});

test('a queue TTL or a seen expiration is evidence: the whole shortfall is counted from the exact counts (shovel move)', () => {
  const shovel = { sourceBefore: 10, sourceCount: 0, destinationBefore: 0, destinationCount: 7 };
  const v = countExpired({ ...base, move: shovel });
  assert.ok(v && 'expired' in v);
  assert.equal(v.expired, 3);
  assert.match(v.note, /shovel does not report/);
  const ttl = countExpired({ ...base, expirationsSeen: 0, queueTtl: true });
  assert.ok(ttl && 'expired' in ttl);
  assert.equal(ttl.expired, 3);
});

test("the sidecar's move splits the shortfall: before the move, in the source during it, in the destination after", () => {
  // 10 expected; 9 in the source when the move began (1 expired before); it read 7, so 2 expired
  // meanwhile in the source; of the 7 forwarded (4 with an expiration) 1 expired in the destination.
  const move = { sourceBefore: 9, sourceCount: 0, destinationBefore: 0, destinationCount: 6, seen: { read: 7, withExpiration: 4 } };
  const v = countExpired({ ...base, actual: 6, expirationsSeen: 0, move });
  assert.ok(v && 'expired' in v);
  assert.equal(v.expired, 4);
  assert.match(v.note, /1 before the move reached them, 2 in the source during the move, 1 in the temporary queue/);
});

test('more messages gone from the destination than moved with an expiration is not expiry (unless a queue TTL applies)', () => {
  const move = { sourceBefore: 10, sourceCount: 0, destinationBefore: 0, destinationCount: 5, seen: { read: 10, withExpiration: 2 } };
  const v = countExpired({ ...base, actual: 5, move });
  assert.ok(v && 'refused' in v);
  assert.match(v.refused, /only 2 of the moved messages carried an expiration/);
  const ttl = countExpired({ ...base, actual: 5, queueTtl: true, move });
  assert.ok(ttl && 'expired' in ttl);
  assert.equal(ttl.expired, 5);
});
