import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { copiesToDrop, messageFingerprint, republishOptions } from './sidecar-move.js';

const msg = (body: string, properties: Partial<ConsumeMessage['properties']>) => ({
  content: Buffer.from(body),
  properties: { headers: {}, ...properties } as ConsumeMessage['properties'],
});

test('held-back messages are dropped only when they are exactly the surplus', () => {
  assert.equal(copiesToDrop(20, 20), 20);
  assert.equal(copiesToDrop(19, 20), 0, 'fewer repeats than surplus: the surplus is not (only) copies');
  assert.equal(copiesToDrop(21, 20), 0, 'more repeats than surplus: identical messages existed before');
  assert.equal(copiesToDrop(0, 0), 0);
});

test('a redelivered copy has the fingerprint of its original; any other difference tells them apart', () => {
  const original = msg('hello', { messageId: 'm1', headers: { n: 1 }, deliveryMode: 2 });
  const redelivered = msg('hello', { messageId: 'm1', headers: { n: 1, 'x-delivery-count': 1 }, deliveryMode: 2 });
  assert.equal(messageFingerprint(original), messageFingerprint(redelivered));
  assert.notEqual(messageFingerprint(original), messageFingerprint(msg('hello', { messageId: 'm2', headers: { n: 1 }, deliveryMode: 2 })));
  assert.notEqual(messageFingerprint(original), messageFingerprint(msg('hellp', { messageId: 'm1', headers: { n: 1 }, deliveryMode: 2 })));
  assert.notEqual(messageFingerprint(original), messageFingerprint(msg('hello', { messageId: 'm1', headers: { n: 2 }, deliveryMode: 2 })));
  // Header order does not matter.
  assert.equal(messageFingerprint(msg('x', { headers: { a: 1, b: 2 } })), messageFingerprint(msg('x', { headers: { b: 2, a: 1 } })));
});

test('republished properties are the delivered ones, without the header the queue added', () => {
  const options = republishOptions(
    msg('x', { messageId: 'm', priority: 3, expiration: '60000', timestamp: 1700000000, headers: { k: 'v', 'x-delivery-count': 2 }, contentType: undefined }),
  );
  assert.deepEqual(options, { headers: { k: 'v' }, priority: 3, expiration: '60000', messageId: 'm', timestamp: 1700000000 });
});
