import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QueueDetail, QueuePhase, QueueRecord } from '../state/records.js';
import { decideResumeStep, expectedCount, type ObservedQueue } from './resume.js';

function queue(count: number | null, phase: QueuePhase = 'save', detail: QueueDetail = {}): QueueRecord {
  return {
    name: 'q',
    vhost: 'v',
    status: 'in_progress',
    started_at: null,
    completed_at: null,
    total_messages: count ?? 0,
    migrated_messages: 0,
    error: null,
    phase,
    location: 'classic',
    original:
      count === null
        ? null
        : {
            durable: true,
            auto_delete: false,
            arguments: {},
            bindings: [],
            policy: 'ha',
            effective_policy_definition: { 'ha-mode': 'all' },
            node: 'n1',
            message_count: count,
            message_bytes: 0,
          },
    detail,
  };
}

const seen = (
  main: ObservedQueue['main'],
  mainCount: number | null,
  temporary: boolean,
  temporaryCount: number | null = temporary ? 0 : null,
): ObservedQueue => ({ main, mainCount, temporary, temporaryCount });

test('nothing saved yet: start from save, or skip when the queue changed underneath', () => {
  assert.deepEqual(decideResumeStep(queue(null, 'pending'), seen('source', 5, false)), { step: 'save' });
  assert.deepEqual(decideResumeStep(queue(null, 'pending'), seen('absent', null, false)), { skip: 'queue no longer exists' });
  assert.ok('skip' in decideResumeStep(queue(null, 'pending'), seen('target', 0, false)));
});

test('classic still there: move again when a temporary queue exists, whatever its count', () => {
  assert.deepEqual(decideResumeStep(queue(10, 'move_to_temporary'), seen('source', 4, true, 6)), { step: 'move_to_temporary' });
  assert.deepEqual(decideResumeStep(queue(10, 'delete_classic'), seen('source', 0, true, 10)), { step: 'move_to_temporary' });
  assert.deepEqual(decideResumeStep(queue(10, 'declare_temporary'), seen('source', 10, true, 0)), { step: 'move_to_temporary' });
});

test('classic still there without a temporary queue: declare it, or take the empty fast path', () => {
  assert.deepEqual(decideResumeStep(queue(10), seen('source', 10, false)), { step: 'declare_temporary' });
  assert.deepEqual(decideResumeStep(queue(0, 'empty_fast_path'), seen('source', 0, false)), { step: 'empty_fast_path' });
  // Saved 10, now 0 and nowhere else: go the full way so that verification reports the loss.
  assert.deepEqual(decideResumeStep(queue(10), seen('source', 0, false)), { step: 'declare_temporary' });
});

test('classic deleted: declare the quorum queue when the messages are in the temporary queue (or there were none)', () => {
  assert.deepEqual(decideResumeStep(queue(10, 'delete_classic'), seen('absent', null, true, 10)), { step: 'declare_quorum' });
  assert.deepEqual(decideResumeStep(queue(0, 'empty_fast_path'), seen('absent', null, false)), { step: 'declare_quorum' });
});

test('classic deleted and no temporary queue while messages were expected: lost, with the count', () => {
  const d = decideResumeStep(queue(10, 'declare_quorum'), seen('absent', null, false));
  assert.ok('lost' in d);
  assert.match(d.lost, /10 message\(s\) unaccounted for/);
});

test('quorum queue exists: declare again (idempotent, re-binds) and carry on', () => {
  assert.deepEqual(decideResumeStep(queue(10, 'move_to_quorum'), seen('target', 3, true, 7)), { step: 'declare_quorum' });
  assert.deepEqual(decideResumeStep(queue(10, 'delete_temporary'), seen('target', 10, false)), { step: 'declare_quorum' });
});

test('expected count: adopted stragglers override the saved count', () => {
  assert.equal(expectedCount(queue(10)), 10);
  assert.equal(expectedCount(queue(10, 'save', { expected: 12 })), 12);
  assert.equal(expectedCount(queue(null)), 0);
});

test('a quorum queue without a running leader (a declare cut short): the temporary one is declared again only when the classic queue holds everything', () => {
  const broken = (o: Partial<ObservedQueue>): ObservedQueue => ({ ...seen('source', 100, true, null), temporaryAvailable: false, ...o });
  assert.deepEqual(decideResumeStep(queue(100, 'move_to_temporary'), broken({})), { step: 'declare_temporary', discard: 'temporary' });
  assert.deepEqual(decideResumeStep(queue(100, 'move_to_temporary', { expected: 120 }), broken({ mainCount: 120 })), {
    step: 'declare_temporary',
    discard: 'temporary',
  });
  const short = decideResumeStep(queue(100, 'move_to_temporary'), broken({ mainCount: 60 }));
  assert.ok('blocked' in short && /holds 60 of 100/.test(short.blocked), JSON.stringify(short));
  const absent = decideResumeStep(queue(100, 'delete_classic'), broken({ main: 'absent', mainCount: null }));
  assert.ok('blocked' in absent, JSON.stringify(absent));
  const mainDown = decideResumeStep(queue(100, 'move_to_quorum'), { ...seen('target', null, true, 100), mainAvailable: false });
  assert.ok('blocked' in mainDown, 'a new quorum queue without a leader is never discarded (unfenced clients may have published into it)');
  // Available (or not a quorum queue): as before.
  assert.deepEqual(decideResumeStep(queue(100, 'move_to_temporary'), { ...seen('source', 100, true, 0), temporaryAvailable: true }), {
    step: 'move_to_temporary',
  });
});

test('a new quorum queue without a leader (its declare cut short by a whole-cluster stop): declared again once, only fenced and when the temporary queue holds every message', () => {
  const mainDown = (temporaryCount: number | null, o: Partial<ObservedQueue> = {}): ObservedQueue => ({
    ...seen('target', null, true, temporaryCount),
    mainAvailable: false,
    ...o,
  });
  const fenced = { clientsFenced: true };
  assert.deepEqual(decideResumeStep(queue(1500, 'move_to_quorum'), mainDown(1500), fenced), { step: 'declare_quorum', discard: 'main' });
  assert.deepEqual(decideResumeStep(queue(1500, 'move_to_quorum', { expected: 1510 }), mainDown(1510), fenced), {
    step: 'declare_quorum',
    discard: 'main',
  });
  assert.deepEqual(decideResumeStep(queue(0, 'declare_quorum'), mainDown(null, { temporary: false }), fenced), { step: 'declare_quorum', discard: 'main' });
  // Part of the messages may already be in the new queue, the temporary queue's count is unknown,
  // it has no leader either, the new queue was declared again already, or clients are not fenced: blocked.
  for (const [o, run] of [
    [mainDown(900), fenced],
    [mainDown(null), fenced],
    [mainDown(1500, { temporaryAvailable: false }), fenced],
    [mainDown(1500), { clientsFenced: true, mainDeclaredAgain: true }],
    [mainDown(1500), { clientsFenced: false }],
    [mainDown(null, { temporary: false }), fenced],
  ] as const) {
    const d = decideResumeStep(queue(1500, 'move_to_quorum'), o, run);
    assert.ok('blocked' in d, JSON.stringify([o, run, d]));
  }
});
