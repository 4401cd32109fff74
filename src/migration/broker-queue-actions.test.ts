/**
 * BrokerQueueActions reading queues: a 404 from the management API is believed only while the
 * vhost is there (a node that is starting answers 404 for both for a moment).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerQueue, ManagementClient } from '../broker/management-client.js';
import { BrokerUnavailableError } from '../errors.js';
import type { MigrationRecord } from '../state/records.js';
import { BrokerQueueActions } from './broker-queue-actions.js';
import { isTransient } from './queue-errors.js';
import type { QueueRunEnv } from './queue-work.js';

function actions(queues: Record<string, Partial<BrokerQueue>>, vhostExists: boolean) {
  const mgmt = {
    async queue(_vhost: string, name: string) {
      return (queues[name] as BrokerQueue | undefined) ?? null;
    },
    async vhost(name: string) {
      return vhostExists ? { name } : null;
    },
  } as unknown as ManagementClient;
  const env = { mgmt, migration: { kind: 'migration' } as unknown as MigrationRecord } as unknown as QueueRunEnv;
  return new BrokerQueueActions(env, 'orders', 'v', 'qmig.tmp.orders');
}

test('a queue the management API does not know is absent while its vhost is there', async () => {
  assert.equal(await actions({}, true).exists('qmig.tmp.orders'), false);
  assert.equal(await actions({ 'qmig.tmp.orders': { name: 'qmig.tmp.orders' } }, false).exists('qmig.tmp.orders'), true);
  assert.equal(await actions({}, true).readQueue(), null);
});

test('a 404 for the queue and for its vhost (a node that is starting) is a transient error, not "queue gone"', async () => {
  for (const read of [(a: BrokerQueueActions) => a.exists('qmig.tmp.orders'), (a: BrokerQueueActions) => a.readQueue()]) {
    const err = await read(actions({}, false)).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof BrokerUnavailableError, String(err));
    assert.equal(isTransient(err), true);
  }
});
