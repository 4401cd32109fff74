import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translateArguments } from '../migration/argument-translation.js';
import { normalDefinitions, type PolicyDefinition, type VhostDefinitions } from './definitions.js';
import { stripMirroring, transformDefinitions } from './definitions-transform.js';

const policy = (name: string, pattern: string, definition: Record<string, unknown>, priority = 0, applyTo = 'queues'): PolicyDefinition => ({
  name,
  pattern,
  'apply-to': applyTo,
  definition,
  priority,
});
const queue = (name: string, args: Record<string, unknown> = {}, more: { durable?: boolean; auto_delete?: boolean } = {}) => ({
  name,
  durable: more.durable ?? true,
  auto_delete: more.auto_delete ?? false,
  arguments: args,
});

function source(): VhostDefinitions {
  return {
    policies: [
      policy('ha-limited', '^m\\.', { 'ha-mode': 'all', 'ha-sync-mode': 'automatic', 'max-length': 100, 'queue-master-locator': 'min-masters' }, 5),
      policy('ha-only', '^h\\.', { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-promote-on-shutdown': 'always', 'ha-promote-on-failure': 'always' }, 1),
      policy('ttl', '^plain\\.', { 'message-ttl': 60000, 'queue-master-locator': 'client-local' }, 0),
      policy('ex', '.*', { 'alternate-exchange': 'ae' }, 0, 'exchanges'),
    ],
    queues: [
      queue('m.prio', { 'x-max-priority': 10, 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' }),
      queue('m.lazy', { 'x-queue-mode': 'lazy', 'x-message-ttl': 1000 }),
      queue('h.one'),
      queue('h.transient', {}, { durable: false }),
      queue('h.autodel', {}, { auto_delete: true }),
      queue('plain.classic', { 'x-max-length': 5 }),
      queue('plain.transient', {}, { durable: false }),
      queue('already.quorum', { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 }),
      queue('m.stream', { 'x-queue-type': 'stream' }),
    ],
    exchanges: [
      { name: 'hx', type: 'headers', durable: true, auto_delete: false, internal: false, arguments: {} },
      { name: 'tx', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} },
      { name: 'dlx', type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} },
    ],
    bindings: [
      { source: 'tx', destination: 'hx', destination_type: 'exchange', routing_key: 'a.#', arguments: {} },
      { source: 'hx', destination: 'm.prio', destination_type: 'queue', routing_key: '', arguments: { 'x-match': 'all', k: 'v' } },
      { source: 'tx', destination: 'h.transient', destination_type: 'queue', routing_key: 'x', arguments: {} },
      { source: 'dlx', destination: 'plain.classic', destination_type: 'queue', routing_key: '', arguments: {} },
    ],
  };
}

describe('transformDefinitions', () => {
  const out = transformDefinitions(source(), [
    { name: 'amq.gen-1', exclusive: true },
    { name: 'm.prio', exclusive: false },
  ]);
  const q = (name: string) => out.definitions.queues.find((x) => x.name === name);

  it('turns mirrored classic queues into quorum queues with the arguments translateArguments gives', () => {
    assert.deepEqual(
      q('m.prio')!.arguments,
      translateArguments({ 'x-max-priority': 10, 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead' }).arguments,
    );
    assert.equal(q('m.prio')!.arguments['x-queue-type'], 'quorum');
    assert.equal(q('m.prio')!.arguments['x-max-priority'], undefined);
    assert.deepEqual(q('m.lazy')!.arguments, { 'x-message-ttl': 1000, 'x-queue-type': 'quorum' });
    assert.deepEqual(q('h.one'), { name: 'h.one', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'quorum' } });
    assert.deepEqual(
      out.queue_conversions.map((c) => [c.name, c.policy, c.dropped_arguments]),
      [
        ['h.one', 'ha-only', []],
        ['m.lazy', 'ha-limited', ['x-queue-mode']],
        ['m.prio', 'ha-limited', ['x-max-priority']],
      ],
    );
  });

  it('keeps non-mirrored classic queues (type made explicit), quorum queues and streams as they are', () => {
    assert.deepEqual(q('plain.classic')!.arguments, { 'x-max-length': 5, 'x-queue-type': 'classic' });
    assert.deepEqual(q('plain.transient'), { name: 'plain.transient', durable: false, auto_delete: false, arguments: { 'x-queue-type': 'classic' } });
    assert.deepEqual(q('already.quorum')!.arguments, { 'x-delivery-limit': 3, 'x-queue-type': 'quorum' });
    assert.deepEqual(q('m.stream')!.arguments, { 'x-queue-type': 'stream' }, 'a stream matched by a mirroring policy is not mirrored');
  });

  it('reports mirrored queues quorum cannot hold, exclusive queues and their bindings as not transferable', () => {
    assert.equal(q('h.transient'), undefined);
    assert.equal(q('h.autodel'), undefined);
    const byName = new Map(out.not_transferable.map((n) => [n.name, n]));
    assert.match(byName.get('h.transient')!.reason, /not durable/);
    assert.match(byName.get('h.autodel')!.reason, /auto-delete/);
    assert.match(byName.get('amq.gen-1')!.reason, /exclusive/);
    assert.equal(byName.has('m.prio'), false, 'a live queue that is in the export is not reported');
    const binding = out.not_transferable.find((n) => n.kind === 'bindings')!;
    assert.match(binding.name, /tx -> queue h\.transient/);
    assert.match(binding.reason, /'h\.transient' is not transferred/);
    assert.equal(out.definitions.bindings.length, 3);
  });

  it('strips mirroring keys from policies, drops policies left empty, keeps the rest', () => {
    const byName = new Map(out.definitions.policies.map((p) => [p.name, p]));
    assert.deepEqual(byName.get('ha-limited')!.definition, { 'max-length': 100 });
    assert.equal(byName.has('ha-only'), false);
    assert.deepEqual(
      byName.get('ttl')!.definition,
      { 'message-ttl': 60000, 'queue-master-locator': 'client-local' },
      'queue-master-locator stays where nothing mirrored',
    );
    assert.deepEqual(byName.get('ex')!.definition, { 'alternate-exchange': 'ae' });
    assert.deepEqual(out.policy_changes, [
      { name: 'ha-limited', stripped_keys: ['ha-mode', 'ha-sync-mode', 'queue-master-locator'], dropped: false },
      { name: 'ha-only', stripped_keys: ['ha-mode', 'ha-params', 'ha-promote-on-failure', 'ha-promote-on-shutdown'], dropped: true },
    ]);
  });

  it('keeps exchanges and exchange-to-exchange and header bindings exactly', () => {
    assert.deepEqual(out.definitions.exchanges, normalDefinitions(source()).exchanges);
    assert.ok(
      out.definitions.bindings.some((b) => b.destination_type === 'exchange' && b.source === 'tx' && b.destination === 'hx' && b.routing_key === 'a.#'),
    );
    assert.ok(out.definitions.bindings.some((b) => b.destination === 'm.prio' && b.arguments['x-match'] === 'all' && b.arguments.k === 'v'));
  });

  it('applies the policy the broker would: the highest priority that matches wins', () => {
    const d: VhostDefinitions = {
      policies: [policy('mirror', '^q', { 'ha-mode': 'all' }, 1), policy('limit', '^q', { 'max-length': 1 }, 2)],
      queues: [queue('q1')],
      exchanges: [],
      bindings: [],
    };
    const r = transformDefinitions(d);
    assert.equal(r.definitions.queues[0].arguments['x-queue-type'], 'classic', 'the mirroring policy does not apply: limit outranks it');
    assert.deepEqual(r.queue_conversions, []);
    assert.deepEqual(transformDefinitions({ ...d, policies: [{ ...d.policies[0], priority: 3 }, d.policies[1]] }).queue_conversions.length, 1);
    const exchangesOnly = transformDefinitions({ ...d, policies: [policy('mirror-ex', '^q', { 'ha-mode': 'all' }, 1, 'exchanges')] });
    assert.equal(exchangesOnly.queue_conversions.length, 0, 'a policy applying to exchanges mirrors no queue');
  });

  it('refuses reserved amq.* queue names', () => {
    const r = transformDefinitions({ policies: [], queues: [queue('amq.custom')], exchanges: [], bindings: [] });
    assert.deepEqual(r.definitions.queues, []);
    assert.match(r.not_transferable[0].reason, /reserved/);
  });
});

describe('stripMirroring', () => {
  it('leaves a policy without mirroring keys unchanged', () => {
    const p = policy('x', '.*', { 'max-length': 1 });
    assert.deepEqual(stripMirroring(p), { policy: p, stripped: [] });
  });
});

describe('policy_shifts', () => {
  it('reports a queue that a lower-priority policy reaches once the mirroring-only policy is dropped', () => {
    const r = transformDefinitions({
      policies: [
        policy('ha', '^h\\.', { 'ha-mode': 'all' }, 2),
        policy('all-ttl', '.*', { 'message-ttl': 1000 }, 0),
        policy('ha-max', '^m\\.', { 'ha-mode': 'all', 'max-length': 5 }, 2),
      ],
      queues: [queue('h.1'), queue('m.1'), queue('o.1')],
      exchanges: [],
      bindings: [],
    });
    assert.deepEqual(r.policy_shifts, [
      { queue: 'h.1', source_policy: 'ha', target_policy: 'all-ttl', source_definition: {}, target_definition: { 'message-ttl': 1000 } },
    ]);
  });

  it('reports nothing when the stripped policies apply as before', () => {
    assert.deepEqual(transformDefinitions(source()).policy_shifts, []);
  });
});

describe('transformDefinitions: overflow that quorum queues refuse', () => {
  it('reports a mirrored queue with reject-publish-dlx (argument or policy) as not transferable, as the in-place check does', () => {
    const out = transformDefinitions({
      policies: [policy('ha-dlx', '^p\\.', { 'ha-mode': 'all', overflow: 'reject-publish-dlx' }, 1), policy('ha', '^a\\.', { 'ha-mode': 'all' })],
      queues: [queue('a.arg', { 'x-overflow': 'reject-publish-dlx' }), queue('p.policy'), queue('a.fine', { 'x-overflow': 'reject-publish' })],
      exchanges: [],
      bindings: [],
    });
    assert.deepEqual(
      out.not_transferable.map((n) => [n.name, /reject-publish-dlx \((argument|policy)\)/.exec(n.reason)?.[1]]),
      [
        ['a.arg', 'argument'],
        ['p.policy', 'policy'],
      ],
    );
    assert.deepEqual(
      out.definitions.queues.map((q) => q.name),
      ['a.fine'],
    );
  });
});
