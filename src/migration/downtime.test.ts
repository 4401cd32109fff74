import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MigrationRecord, QueueRecord } from '../state/records.js';
import { closeFencePeriod, downtimeOf, openFencePeriod, queueUnavailableSeconds, stampAvailability } from './downtime.js';

const t = (s: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, 0) + s * 1000);
const queue = (name: string): QueueRecord => ({ name, vhost: 'v', detail: {} }) as unknown as QueueRecord;

test('a queue is unavailable from the move out of it until the step after the move back', () => {
  const q = queue('q');
  stampAvailability(q, 'save', t(0));
  stampAvailability(q, 'declare_temporary', t(1));
  assert.equal(q.detail.unavailable, undefined, 'still in reach before its messages leave');
  stampAvailability(q, 'move_to_temporary', t(2));
  stampAvailability(q, 'delete_classic', t(3));
  stampAvailability(q, 'move_to_temporary', t(4)); // a resumed step does not move the start
  stampAvailability(q, 'move_to_quorum', t(5));
  stampAvailability(q, 'delete_temporary', t(7.5));
  stampAvailability(q, 'finish', t(9));
  assert.equal(queueUnavailableSeconds(q), 5.5);
  const empty = queue('e');
  stampAvailability(empty, 'empty_fast_path', t(0));
  stampAvailability(empty, 'finish', t(0.25));
  assert.equal(queueUnavailableSeconds(empty), 0.25);
  assert.equal(queueUnavailableSeconds(queue('never')), null);
});

test('an open interval counts until now, or until the queue ended', () => {
  const q = queue('q');
  stampAvailability(q, 'move_to_temporary', t(0));
  assert.equal(queueUnavailableSeconds(q, t(3).getTime()), 3);
  q.completed_at = '2026-12-03 10:00:02';
  assert.equal(queueUnavailableSeconds(q, t(60).getTime()), 2);
});

test('fence periods: one per fencing, a resumed fence continues the open one, summed per vhost', () => {
  const r = { completed_at: null } as unknown as MigrationRecord;
  openFencePeriod(r, 'a', t(0));
  openFencePeriod(r, 'a', t(1)); // resumed
  closeFencePeriod(r, 'a', t(4));
  openFencePeriod(r, 'b', t(5));
  closeFencePeriod(r, 'b', t(6.5));
  openFencePeriod(r, 'a', t(10)); // a rollback or a later fence of the same vhost
  assert.equal(r.fence_periods?.length, 3);
  const d = downtimeOf(r, [], t(12).getTime());
  assert.deepEqual(d.fenced_seconds, { a: 6, b: 1.5 }, 'the open period of a counts until now');
  r.completed_at = '2026-12-03 10:00:11';
  assert.deepEqual(downtimeOf(r, []).fenced_seconds, { a: 5, b: 1.5 }, 'an ended run: until its end');
});
