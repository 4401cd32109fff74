import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue } from '../broker/management-client.js';
import type { NodeState } from './cluster-snapshot.js';
import { checkDiskSpace, diskRequirement } from './disk-space.js';
import { MIB } from './types.js';

const q = (name: string, bytes?: number): BrokerQueue => ({ name, vhost: 'v', durable: true, auto_delete: false, arguments: {}, message_bytes: bytes });
const node = (name: string, free: number, limit: number, running = true): NodeState => ({ name, running, disk_free: free, disk_free_limit: limit });

test('required = sum(message_bytes) x factor + margin MiB, rounded up to MB', () => {
  const r = diskRequirement([q('a', 100 * MIB), q('b', 50 * MIB), q('c')], 2.0, 500);
  assert.equal(r.message_bytes, 150 * MIB);
  assert.equal(r.required_bytes, 800 * MIB);
  assert.equal(r.required_mb, 800);
  assert.equal(diskRequirement([q('a', 1)], 2.0, 0).required_mb, 1);
});

test('the tightest node decides: free - limit, and the spec message names required and available MB', () => {
  const nodes = [node('n1', 10_000 * MIB, 50 * MIB), node('n2', 750 * MIB, 50 * MIB), node('n3', 5_000 * MIB, 50 * MIB)];
  const c = checkDiskSpace(nodes, [q('a', 200 * MIB)], 2.0, 500);
  // n2: 750 - 50 = 700 MiB available; 200 x 2 + 500 = 900 MiB required
  assert.equal(c.status, 'failed');
  assert.equal(c.message, 'Insufficient disk space for migration. Required: 900MB, Available: 700MB');
  assert.equal(c.details?.tightest_node, 'n2');
});

test('exactly enough passes, one byte less fails', () => {
  const need = 700 * MIB;
  assert.equal(checkDiskSpace([node('n1', need + 50 * MIB, 50 * MIB)], [q('a', 100 * MIB)], 2.0, 500).status, 'passed');
  const short = checkDiskSpace([node('n1', need + 50 * MIB - 1, 50 * MIB)], [q('a', 100 * MIB)], 2.0, 500);
  assert.equal(short.status, 'failed');
  assert.equal(short.message, 'Insufficient disk space for migration. Required: 700MB, Available: 699MB');
  assert.equal(short.details?.required_bytes, need);
  assert.equal(short.details?.available_bytes, need - 1);
});

test('a disk alarm limit above free space counts as 0 MB available', () => {
  const c = checkDiskSpace([node('n1', 80_000 * MIB, 1_000_000 * MIB)], [], 2.0, 500);
  assert.equal(c.status, 'failed');
  assert.equal(c.message, 'Insufficient disk space for migration. Required: 500MB, Available: 0MB');
});

test('stopped nodes are not judged; a running node without statistics fails the check', () => {
  assert.equal(checkDiskSpace([node('n1', 10_000 * MIB, 50 * MIB), node('n2', 0, 0, false)], [], 2.0, 500).status, 'passed');
  const c = checkDiskSpace([node('n1', 10_000 * MIB, 50 * MIB), { name: 'n2', running: true }], [], 2.0, 500);
  assert.equal(c.status, 'failed');
  assert.match(c.message, /unknown on n2/);
});
