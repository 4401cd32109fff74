import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VhostDefinitions } from './definitions.js';
import { conflictsOf, diffCounts, diffDefinitions, toCreate } from './definitions-diff.js';

function planned(): VhostDefinitions {
  return {
    policies: [{ name: 'limit', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length': 10 }, priority: 1 }],
    exchanges: [{ name: 'x', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
    queues: [
      { name: 'q1', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'dlx' } },
      { name: 'q2', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic' } },
    ],
    bindings: [
      { source: 'x', destination: 'q1', destination_type: 'queue', routing_key: 'k', arguments: {} },
      { source: 'x', destination: 'q1', destination_type: 'queue', routing_key: 'k', arguments: { a: 1 } },
    ],
  };
}

describe('diffDefinitions', () => {
  it('says create for everything when the target vhost does not exist', () => {
    const diff = diffDefinitions(planned(), null);
    const counts = diffCounts(diff);
    assert.deepEqual(counts.total, { create: 6, same: 0, conflict: 0 });
    assert.deepEqual(counts.bindings, { create: 2, same: 0, conflict: 0 });
    assert.deepEqual(
      toCreate(planned(), diff).queues.map((q) => q.name),
      ['q1', 'q2'],
    );
  });

  it('says same for equal objects after normalisation (key order, implicit classic type)', () => {
    const target: VhostDefinitions = {
      policies: [{ name: 'limit', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length': 10 }, priority: 1 }],
      exchanges: [{ name: 'x', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
      queues: [
        { name: 'q1', durable: true, auto_delete: false, arguments: { 'x-dead-letter-exchange': 'dlx', 'x-queue-type': 'quorum' } },
        { name: 'q2', durable: true, auto_delete: false, arguments: {} },
      ],
      bindings: [{ source: 'x', destination: 'q1', destination_type: 'queue', routing_key: 'k', arguments: {} }],
    };
    const diff = diffDefinitions(planned(), target);
    assert.deepEqual(diffCounts(diff).total, { create: 1, same: 5, conflict: 0 });
    const create = toCreate(planned(), diff);
    assert.deepEqual(
      create.bindings.map((b) => b.arguments),
      [{ a: 1 }],
    );
    assert.equal(create.queues.length + create.exchanges.length + create.policies.length, 0);
  });

  it('reports conflicts (type, arguments, policy definition, exchange type) and names what differs', () => {
    const target: VhostDefinitions = {
      policies: [{ name: 'limit', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length': 20 }, priority: 1 }],
      exchanges: [{ name: 'x', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
      queues: [
        { name: 'q1', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic' } },
        { name: 'q2', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', 'x-max-length': 1 } },
      ],
      bindings: [],
    };
    const diff = diffDefinitions(planned(), target);
    assert.deepEqual(diffCounts(diff).total, { create: 2, same: 0, conflict: 4 });
    const conflicts = conflictsOf(diff);
    assert.deepEqual(
      conflicts.map((c) => `${c.kind}:${c.name}`),
      ['policies:limit', 'exchanges:x', 'queues:q1', 'queues:q2'],
    );
    assert.match(conflicts[0].difference!, /definition: target \{"max-length":20\}, plan \{"max-length":10\}/);
    assert.match(conflicts[1].difference!, /type: target "direct", plan "topic"/);
    assert.match(conflicts[2].difference!, /x-queue-type":"classic"/);
    assert.deepEqual(toCreate(planned(), diff).bindings.length, 2);
  });

  it('ignores objects only the target has', () => {
    const target: VhostDefinitions = {
      policies: [],
      exchanges: [{ name: 'other', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
      queues: [{ name: 'extra', durable: true, auto_delete: false, arguments: {} }],
      bindings: [],
    };
    assert.deepEqual(diffCounts(diffDefinitions(planned(), target)).total, { create: 6, same: 0, conflict: 0 });
  });
});
