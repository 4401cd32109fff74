import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrationRecordProblem } from './record-validation.js';
import { StateSeal } from './state-seal.js';

const KEY = 'k'.repeat(32);
const OLD = 'o'.repeat(32);

test('a sealed value opens for its own name only; altered data, another name, another key or no seal do not', () => {
  const seal = new StateSeal(KEY);
  const value = { b: [1, { y: 'ü', x: null }], a: 'x' };
  const sealed = seal.seal('qmig.migration.A', value);
  assert.deepEqual(seal.open('qmig.migration.A', sealed), { ok: true, value });
  // Key order does not matter (the broker may return keys in another order).
  assert.equal(
    seal.open('qmig.migration.A', JSON.parse(JSON.stringify({ mac: sealed.mac, data: { a: 'x', b: [1, { x: null, y: 'ü' }] }, qmig_seal: 1 }))).ok,
    true,
  );
  assert.equal(seal.open('qmig.migration.B', sealed).ok, false, 'copied under another name');
  assert.equal(seal.open('qmig.migration.A', { ...sealed, data: { ...value, a: 'y' } }).ok, false, 'altered');
  assert.equal(new StateSeal(OLD).open('qmig.migration.A', sealed).ok, false, 'another key');
  for (const stored of [value, null, 'text', [], { qmig_seal: 1, mac: 'zz', data: value }])
    assert.equal(seal.open('qmig.migration.A', stored).ok, false, JSON.stringify(stored));
});

test('rotation: the previous key verifies, only the current one seals', () => {
  const old = new StateSeal(OLD).seal('n', { v: 1 });
  const rotated = new StateSeal(KEY, OLD);
  assert.equal(rotated.open('n', old).ok, true);
  assert.equal(new StateSeal(OLD).open('n', rotated.seal('n', { v: 1 })).ok, false, 'new state is sealed with the new key');
});

test('records are served only in the shape qmig writes', () => {
  const good = { id: 'A', vhost: '/', started_at: '2026-01-02 03:04:05', completed_at: null, status: 'completed', queue_chunks: 0, engine: {} };
  assert.equal(migrationRecordProblem(good, 'A'), null);
  assert.match(migrationRecordProblem({ ...good, started_at: '2026-01-02T03:04:05Z' }, 'A') ?? '', /started_at/);
  assert.match(migrationRecordProblem({ ...good, completed_at: '2026-01-02T03:04:05.000Z' }, 'A') ?? '', /completed_at/);
  assert.match(migrationRecordProblem(good, 'B') ?? '', /differs from its parameter name/);
  assert.match(migrationRecordProblem({ ...good, status: 'done' }, 'A') ?? '', /status/);
  assert.match(migrationRecordProblem({ ...good, queue_chunks: -1 }, 'A') ?? '', /queue_chunks/);
  assert.notEqual(migrationRecordProblem([], 'A'), null);
});

test('the sealed data is the value as it was when sealed: changing the value afterwards (a running migration keeps updating its queue records; a retried write sends the body again) cannot break the seal', () => {
  const seal = new StateSeal('k'.repeat(32));
  const queues = [{ name: 'q1', migrated_messages: 10, detail: { shovel: 'qmig.shovel.q1.to-temporary' } as Record<string, unknown> }];
  const sealed = seal.seal('qmig.queues.x.0', queues);
  queues[0].migrated_messages = 20;
  delete queues[0].detail.shovel;
  const sent = JSON.parse(JSON.stringify(sealed));
  const opened = seal.open<typeof queues>('qmig.queues.x.0', sent);
  assert.ok(opened.ok, 'verifies after the caller changed its value');
  assert.deepEqual(opened.value, [{ name: 'q1', migrated_messages: 10, detail: { shovel: 'qmig.shovel.q1.to-temporary' } }]);
});
