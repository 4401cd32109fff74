import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localUri, prefetchFor, shovelDefinition } from './shovels.js';

test('prefetch grows with the queue between 100 and 5000', () => {
  assert.equal(prefetchFor(1), 100);
  assert.equal(prefetchFor(2000), 200);
  assert.equal(prefetchFor(100_000), 5000);
  assert.equal(prefetchFor(10_000_000), 5000);
});

test('local URIs encode the vhost; "/" is %2F, never the bare amqp:// (which is "/" only by accident)', () => {
  assert.equal(localUri('/'), 'amqp:///%2F');
  assert.equal(localUri('a/b&c ü'), 'amqp:///a%2Fb%26c%20%C3%BC');
});

test('shovel definition: on-confirm, never self-deletes, explicit destination queue', () => {
  assert.deepEqual(shovelDefinition('v', 'src', 'dst', 300), {
    'src-uri': 'amqp:///v',
    'src-queue': 'src',
    'dest-uri': 'amqp:///v',
    'dest-queue': 'dst',
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
    'src-prefetch-count': 300,
  });
});
