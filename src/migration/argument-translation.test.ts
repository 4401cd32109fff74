import assert from 'node:assert/strict';
import { test } from 'node:test';
import { translateArguments } from './argument-translation.js';

test('classic-only arguments are dropped and reported, x-queue-type becomes quorum', () => {
  const out = translateArguments({
    'x-max-priority': 10,
    'x-queue-mode': 'lazy',
    'x-queue-master-locator': 'min-masters',
    'x-queue-version': 2,
    'x-ha-policy': 'all',
    'x-queue-type': 'classic',
  });
  assert.deepEqual(out.arguments, { 'x-queue-type': 'quorum' });
  assert.deepEqual(out.dropped, ['x-ha-policy', 'x-max-priority', 'x-queue-master-locator', 'x-queue-mode', 'x-queue-version']);
});

test('quorum-compatible and unknown arguments are kept with their values', () => {
  const kept = {
    'x-dead-letter-exchange': 'dlx',
    'x-dead-letter-routing-key': 'dead',
    'x-max-length': 1000,
    'x-max-length-bytes': 1048576,
    'x-overflow': 'reject-publish',
    'x-single-active-consumer': true,
    'x-message-ttl': 60000,
    'x-custom-thing': { nested: ['a', 1] },
  };
  const out = translateArguments({ ...kept, 'x-max-priority': 3 });
  assert.deepEqual(out.arguments, { ...kept, 'x-queue-type': 'quorum' });
  assert.deepEqual(out.dropped, ['x-max-priority']);
});

test('drop-head overflow is kept; no arguments at all give just the type', () => {
  assert.deepEqual(translateArguments({ 'x-overflow': 'drop-head' }).arguments, { 'x-overflow': 'drop-head', 'x-queue-type': 'quorum' });
  assert.deepEqual(translateArguments(undefined), { arguments: { 'x-queue-type': 'quorum' }, dropped: [] });
  assert.deepEqual(translateArguments(null).arguments, { 'x-queue-type': 'quorum' });
});

test('the input is not modified', () => {
  const input = { 'x-max-priority': 5, 'x-max-length': 10 };
  translateArguments(input);
  assert.deepEqual(input, { 'x-max-priority': 5, 'x-max-length': 10 });
});
