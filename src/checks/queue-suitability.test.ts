import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerPolicy, BrokerQueue } from '../broker/management-client.js';
import { checkQueueSuitability, findQueueIssues, lostPolicyKeys, queueIssues, UNSUITABLE_REASON } from './queue-suitability.js';
import { checkQueueSynchronization } from './queue-synchronization.js';

const HA = { 'ha-mode': 'exactly', 'ha-params': 2 };
function q(name: string, extra: Partial<BrokerQueue> = {}): BrokerQueue {
  return {
    name,
    vhost: 'v',
    durable: true,
    auto_delete: false,
    exclusive: false,
    arguments: {},
    node: 'n1',
    slave_nodes: ['n2'],
    synchronised_slave_nodes: ['n2'],
    policy: 'ha',
    effective_policy_definition: HA,
    ...extra,
  };
}
const policy = (name: string, pattern: string, definition: Record<string, unknown>, priority = 0, applyTo = 'queues'): BrokerPolicy => ({
  vhost: 'v',
  name,
  pattern,
  'apply-to': applyTo,
  definition,
  priority,
});
const HA_POLICY = policy('ha', '.*', HA);
const types = (issues: { type: string }[]) => issues.map((i) => i.type).sort();
const opts = { allowMessageTtl: false };

test('a plain mirrored durable queue has no issue', () => {
  assert.deepEqual(queueIssues(q('ok'), [HA_POLICY], opts), []);
});

test('exclusive and non-durable queues are errors', () => {
  assert.deepEqual(types(queueIssues(q('x', { exclusive: true, durable: false }), [HA_POLICY], opts)), ['exclusive', 'non_durable']);
});

test('reject-publish-dlx overflow as argument or as policy; other overflows are fine', () => {
  const arg = queueIssues(q('a', { arguments: { 'x-overflow': 'reject-publish-dlx' } }), [HA_POLICY], opts);
  assert.deepEqual(types(arg), ['unsuitable_overflow']);
  assert.match(arg[0].reason, /argument x-overflow/);
  const pol = queueIssues(q('b', { effective_policy_definition: { ...HA, overflow: 'reject-publish-dlx' } }), [HA_POLICY], opts);
  assert.deepEqual(types(pol), ['unsuitable_overflow']);
  assert.match(pol[0].reason, /policy 'ha' key overflow/);
  assert.deepEqual(queueIssues(q('c', { arguments: { 'x-overflow': 'reject-publish' } }), [HA_POLICY], opts), []);
});

test('x-expires / expires policy and x-message-ttl / message-ttl policy', () => {
  assert.deepEqual(types(queueIssues(q('e', { arguments: { 'x-expires': 60000 } }), [HA_POLICY], opts)), ['queue_expires']);
  assert.deepEqual(types(queueIssues(q('e2', { effective_policy_definition: { ...HA, expires: 60000 } }), [HA_POLICY], opts)), ['queue_expires']);
  assert.deepEqual(types(queueIssues(q('t', { arguments: { 'x-message-ttl': 1000 } }), [HA_POLICY], opts)), ['message_ttl']);
  assert.deepEqual(types(queueIssues(q('t2', { effective_policy_definition: { ...HA, 'message-ttl': 1000 } }), [HA_POLICY], opts)), ['message_ttl']);
});

test('allow_message_ttl silences message_ttl only', () => {
  const issues = queueIssues(q('t', { arguments: { 'x-message-ttl': 1000, 'x-expires': 5000 } }), [HA_POLICY], { allowMessageTtl: true });
  assert.deepEqual(types(issues), ['queue_expires']);
});

test('auto_delete is a warning that does not make the queue unsuitable', () => {
  const issues = queueIssues(q('ad', { auto_delete: true }), [HA_POLICY], opts);
  assert.deepEqual(
    issues.map((i) => [i.type, i.severity]),
    [['auto_delete', 'warning']],
  );
  const c = checkQueueSuitability([q('ad', { auto_delete: true })], issues, false);
  assert.equal(c.status, 'passed');
  assert.equal(c.details?.warnings, 1);
});

test('an unsynchronised mirror is an issue and fails queue_synchronization (warning in skip mode)', () => {
  const unsynced = q('u', { slave_nodes: ['n2', 'n3'], synchronised_slave_nodes: ['n3'] });
  const issues = queueIssues(unsynced, [HA_POLICY], opts);
  assert.deepEqual(types(issues), ['unsynchronized']);
  assert.match(issues[0].reason, /n2/);
  assert.equal(checkQueueSynchronization([unsynced, q('ok')], false).status, 'failed');
  assert.equal(checkQueueSynchronization([unsynced], true).status, 'warning');
  assert.equal(checkQueueSynchronization([q('ok')], false).status, 'passed');
});

test('policy_would_be_lost: ha-* together with dead-lettering and max-length names the lost keys', () => {
  const p = policy('dlx-ha', '^orders', { ...HA, 'dead-letter-exchange': 'dlx', 'max-length': 1000 });
  const queue = q('orders', { policy: 'dlx-ha', effective_policy_definition: p.definition });
  const lost = lostPolicyKeys(queue, [p]);
  assert.deepEqual(lost, {
    policy: 'dlx-ha',
    unsupported_keys: ['ha-mode', 'ha-params'],
    lost: { 'dead-letter-exchange': 'dlx', 'max-length': 1000 },
    fallback_policy: null,
  });
  const issues = queueIssues(queue, [p], opts);
  assert.deepEqual(types(issues), ['policy_would_be_lost']);
  assert.match(issues[0].reason, /dead-letter-exchange="dlx", max-length=1000/);
  assert.match(issues[0].reason, /lower priority than 'dlx-ha'/);
});

test('a pure mirroring policy loses nothing that matters', () => {
  assert.equal(lostPolicyKeys(q('a'), [HA_POLICY]), null);
});

test('a lower-priority quorum-compatible policy with the same keys avoids the loss; a partial one does not', () => {
  const p = policy('dlx-ha', '^orders', { ...HA, 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 5);
  const queue = q('orders', { policy: 'dlx-ha', effective_policy_definition: p.definition });
  const full = policy('qq', '^orders', { 'dead-letter-exchange': 'dlx', 'max-length': 1000 }, 1);
  assert.equal(lostPolicyKeys(queue, [p, full]), null);
  const partial = policy('qq', '^orders', { 'dead-letter-exchange': 'dlx' }, 1);
  assert.deepEqual(lostPolicyKeys(queue, [p, partial])?.lost, { 'max-length': 1000 });
  assert.equal(lostPolicyKeys(queue, [p, partial])?.fallback_policy, 'qq');
  // a fallback that itself holds a classic-only key is not applicable to a quorum queue
  const notApplicable = policy('qq', '^orders', { 'dead-letter-exchange': 'dlx', 'max-length': 1000, 'queue-mode': 'lazy' }, 1);
  assert.equal(lostPolicyKeys(queue, [p, notApplicable])?.fallback_policy, null);
  // nor is one that does not match the name, or applies to exchanges
  assert.equal(lostPolicyKeys(queue, [p, policy('qq', '^other', full.definition, 1)])?.fallback_policy, null);
  assert.equal(lostPolicyKeys(queue, [p, policy('qq', '^orders', full.definition, 1, 'exchanges')])?.fallback_policy, null);
});

test('queue-mode / queue-master-locator are classic-only keys too', () => {
  const p = policy('lazy', '.*', { 'ha-mode': 'all', 'queue-mode': 'lazy', 'queue-master-locator': 'min-masters', 'message-ttl': 5 });
  const lost = lostPolicyKeys(q('a', { policy: 'lazy' }), [p]);
  assert.deepEqual(lost?.unsupported_keys, ['ha-mode', 'queue-master-locator', 'queue-mode']);
  assert.deepEqual(lost?.lost, { 'message-ttl': 5 });
});

test('keys that only matter to classic or mirrored queues are dropped by design: a note, never a loss', () => {
  // The plugin's own scenarios use this policy: queue-version has no meaning for a quorum queue.
  const p = policy('ha-all', '.*', { 'ha-mode': 'all', 'ha-sync-mode': 'automatic', 'queue-version': 2 });
  const queue = q('test.queue.ha-all.1', { policy: 'ha-all', effective_policy_definition: p.definition });
  assert.equal(lostPolicyKeys(queue, [p]), null);
  const issues = queueIssues(queue, [p], opts);
  assert.deepEqual(
    issues.map((i) => [i.type, i.severity]),
    [['policy_keys_dropped', 'info']],
  );
  assert.match(issues[0].reason, /ha-mode, ha-sync-mode, queue-version/);
  const check = checkQueueSuitability([queue], issues, false);
  assert.equal(check.status, 'passed');
  assert.match(check.message, /1 note\(s\)/);
  // queue-mode / max-priority / queue-master-locator likewise; a real setting beside them is still a loss
  const lazy = policy('lazy', '.*', {
    'ha-mode': 'all',
    'queue-mode': 'lazy',
    'max-priority': 5,
    'queue-master-locator': 'min-masters',
    'dead-letter-exchange': 'dlx',
  });
  const lost = lostPolicyKeys(q('b', { policy: 'lazy' }), [lazy]);
  assert.deepEqual(lost?.lost, { 'dead-letter-exchange': 'dlx' });
  assert.deepEqual(types(queueIssues(q('b', { policy: 'lazy' }), [lazy], opts)), ['policy_keys_dropped', 'policy_would_be_lost']);
  // a pure mirroring policy is no news: no note
  assert.deepEqual(queueIssues(q('c'), [HA_POLICY], opts), []);
});

test('too_many_queues flags the selected queues beyond the limit only', () => {
  const qs = [q('a'), q('b'), q('c'), q('d')];
  const issues = findQueueIssues(qs, [HA_POLICY], { allowMessageTtl: false, maxQueues: 3 });
  assert.deepEqual(
    issues.map((i) => [i.queue, i.type]),
    [['d', 'too_many_queues']],
  );
  assert.match(issues[0].reason, /4 mirrored queues selected, at most 3/);
});

test('queue_suitability counts queues (not issues) and uses the spec sentence', () => {
  const qs = [q('a', { exclusive: true, durable: false }), q('b', { arguments: { 'x-expires': 1 } }), q('c')];
  const issues = findQueueIssues(qs, [HA_POLICY], { allowMessageTtl: false, maxQueues: 10 });
  const c = checkQueueSuitability(qs, issues, false);
  assert.equal(c.status, 'failed');
  assert.equal(c.message, UNSUITABLE_REASON(2));
  assert.equal(c.message, 'Found 2 queue(s) with issues (too many messages, too many bytes, or unsuitable arguments)');
  assert.equal(c.details?.problematic_queue_count, 2);
  assert.equal(checkQueueSuitability(qs, issues, true).status, 'warning');
});
