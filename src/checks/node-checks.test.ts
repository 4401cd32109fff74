import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkActiveAlarms } from './alarms.js';
import type { NodeState } from './cluster-snapshot.js';
import { checkClusterHealth } from './cluster-health.js';
import { checkMemoryUsage } from './memory-usage.js';
import { checkShovelPlugin, SHOVEL_PLUGIN_REASON } from './shovel-plugin.js';

const n = (name: string, extra: Partial<NodeState> = {}): NodeState => ({
  name,
  running: true,
  mem_used: 100,
  mem_limit: 1000,
  mem_alarm: false,
  disk_free_alarm: false,
  partitions: [],
  running_applications: ['rabbit', 'rabbitmq_shovel'],
  ...extra,
});

test('shovel plugin must run on every running node; the spec message names the fix', () => {
  assert.equal(checkShovelPlugin([n('a'), n('b')]).status, 'passed');
  const c = checkShovelPlugin([n('a'), n('b', { running_applications: ['rabbit'] })]);
  assert.equal(c.status, 'failed');
  assert.equal(c.message, SHOVEL_PLUGIN_REASON);
  assert.deepEqual(c.details?.nodes_without_shovel, ['b']);
  // without an applications list the enabled plugins decide
  assert.equal(checkShovelPlugin([n('a', { running_applications: undefined, enabled_plugins: ['rabbitmq_shovel'] })]).status, 'passed');
  assert.equal(checkShovelPlugin([n('a', { running_applications: undefined, enabled_plugins: [] })]).status, 'failed');
  // an applications list without `rabbit` itself is no real sample (a node just started): the enabled plugins decide
  assert.equal(checkShovelPlugin([n('a', { running_applications: [], enabled_plugins: ['rabbitmq_shovel'] })]).status, 'passed');
  assert.equal(checkShovelPlugin([n('a', { running_applications: ['rabbitmq_management'], enabled_plugins: [] })]).status, 'failed');
});

test('cluster health: a node down or a partition fails', () => {
  assert.equal(checkClusterHealth([n('a'), n('b')]).status, 'passed');
  const down = checkClusterHealth([n('a'), n('b', { running: false })]);
  assert.equal(down.status, 'failed');
  assert.match(down.message, /node\(s\) down: b/);
  const split = checkClusterHealth([n('a', { partitions: ['b'] }), n('b', { partitions: ['a'] })]);
  assert.equal(split.status, 'failed');
  assert.match(split.message, /network partition: a cannot see b/);
});

test('alarms: memory or disk alarm on any running node', () => {
  assert.equal(checkActiveAlarms([n('a')]).status, 'passed');
  const c = checkActiveAlarms([n('a', { disk_free_alarm: true }), n('b', { mem_alarm: true })]);
  assert.equal(c.status, 'failed');
  assert.deepEqual(c.details?.alarms, [
    { node: 'a', alarm: 'disk' },
    { node: 'b', alarm: 'memory' },
  ]);
});

test('memory: used / limit above the threshold fails, naming the node and percentage', () => {
  assert.equal(checkMemoryUsage([n('a', { mem_used: 800 })], 0.8).status, 'passed');
  const c = checkMemoryUsage([n('a', { mem_used: 801 }), n('b')], 0.8);
  assert.equal(c.status, 'failed');
  assert.match(c.message, /a at 80\.1% of its memory limit/);
  assert.equal(checkMemoryUsage([n('a', { mem_used: undefined })], 0.8).status, 'failed');
});
