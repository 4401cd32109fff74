import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMigrationId, displayId, newMigrationId } from './migration-id.js';
import { progressPercentage, timestamp } from './records.js';

test('ids are base64url and decode back to their node and time', () => {
  const at = new Date('2025-12-21T10:30:00Z');
  const id = newMigrationId('rabbit@node1', at);
  assert.match(id, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeMigrationId(id), { startedAtMs: at.getTime(), node: 'rabbit@node1' });
  assert.notEqual(newMigrationId('rabbit@node1', at), id, 'ids are unique even in the same millisecond');
});

test('anything that is not one of our ids does not decode', () => {
  for (const bad of [
    '',
    'not-base64!',
    'ZzJnQ2JnWUE4VTJOS0pzQmR4aHlZV0pwYVhRdE1VQlRSVUV0TTB4SE5VaFdTbFZYU2tz',
    Buffer.from('qmig|1|n|x').toString('base64url'),
    'a'.repeat(500),
  ]) {
    assert.equal(decodeMigrationId(bad), null, bad);
  }
  // Non-canonical base64url (padding) is refused too.
  const id = newMigrationId('n@h');
  assert.equal(decodeMigrationId(id + '='), null);
});

test('timestamps and display ids follow the spec', () => {
  assert.equal(timestamp(new Date('2025-12-21T10:30:00.123Z')), '2025-12-21 10:30:00');
  assert.equal(displayId('/', '2025-12-21 10:30:00', 'rabbit@node1'), '/ (2025-12-21 10:30:00) on rabbit@node1');
});

test('progress percentage', () => {
  assert.equal(progressPercentage(5, 10, false), 50);
  assert.equal(progressPercentage(1, 3, false), 33);
  assert.equal(progressPercentage(0, 0, true), 100);
  assert.equal(progressPercentage(0, 0, false), 0);
  assert.equal(progressPercentage(12, 10, true), 100);
});
