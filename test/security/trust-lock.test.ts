/**
 * Lock squatting, on the real cluster: a user holding qmig's lock queue would stop every start
 * (409) and every orphan resume (a fence left standing). The state vhost the sidecar creates is
 * reserved to its service account, so nobody else can even connect there; and should it be
 * misconfigured, a squatter's connection is closed and the lock taken, and `check` fails
 * naming the user who has permissions there.
 */
import assert from 'node:assert/strict';
import amqplib from 'amqplib';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { enc } from '../../src/broker/management-client.js';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { admin, amqpUrl } from '../support/cluster.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';
import { FULL, tenant } from './trust-support.js';
import { HOUSEKEEPING_LOCK, MIGRATION_LOCK } from '../../src/broker/names.js';

const P = '/api/queue-migration';

test('the state vhost the sidecar creates is reserved to the service account: nobody else can connect there to squat', async (t) => {
  const stateVhost = `qmig-test-state-${randomBytes(4).toString('hex')}`;
  t.after(() =>
    admin()
      .deleteIfExists(`/vhosts/${enc(stateVhost)}`)
      .catch(() => undefined),
  );
  await startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost } });
  const perms = await admin().vhostPermissions(stateVhost);
  assert.deepEqual(
    perms.map((p) => p.user),
    ['guest'],
    'created with the service account as its only user',
  );
  const own = await testVhost(t);
  const pm = await tenant(t, ['policymaker', 'management'], { [own]: FULL });
  await assert.rejects(amqplib.connect(amqpUrl(stateVhost, 0, pm.user, pm.password)), /ACCESS_REFUSED|access to vhost|403|refused|ConnectionClose/i);
  const res = await pm.mgmt.request('PUT', `/queues/${enc(stateVhost)}/${enc(MIGRATION_LOCK)}`, { durable: false });
  assert.ok(res.status === 401 || res.status === 403, `declaring there over HTTP is refused too (${res.status})`);
});

test('a squatter on a misconfigured state vhost is evicted: start is judged, housekeeping runs, check names the intruder', async (t) => {
  const stateVhost = await testVhost(t);
  const target = await testVhost(t);
  const squatter = await tenant(t, ['policymaker'], { [stateVhost]: FULL });
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const held: amqplib.ChannelModel[] = [];
  t.after(async () => {
    for (const c of held) await c.close().catch(() => undefined);
  });
  const squat = async (lock: string) => {
    const conn = await amqplib.connect(amqpUrl(stateVhost, 0, squatter.user, squatter.password));
    conn.on('error', () => undefined);
    const ch = await conn.createChannel();
    await ch.assertQueue(lock, { exclusive: true, durable: false });
    held.push(conn);
    return new Promise<void>((resolve) => conn.once('close', () => resolve()));
  };
  const evictedFromMigrationLock = squat(MIGRATION_LOCK);
  const evictedFromHousekeepingLock = squat(HOUSEKEEPING_LOCK);
  // Let the management API see the connections (statistics interval).
  await new Promise((r) => setTimeout(r, 2000));

  const start = await s.api(`${P}/start/${enc(target)}`, { method: 'POST' });
  const body = await start.json();
  assert.notEqual(start.status, 409, `a squatted lock does not make start answer 409: ${JSON.stringify(body)}`);
  assert.equal(start.status, 400, 'judged on its merits: the vhost has nothing to migrate');
  await evictedFromMigrationLock;

  const report = await new Housekeeper(s.ctx, s.engine).runOnce();
  assert.equal(report.ran, true, 'housekeeping took its lock from the squatter');
  await evictedFromHousekeepingLock;

  const check = await s.api(`${P}/check/${enc(target)}`, { method: 'POST' });
  const checkBody = await check.json();
  const integrity = checkBody.system_checks.checks.find((c: { check_type: string }) => c.check_type === 'state_integrity');
  assert.equal(integrity.status, 'failed');
  assert.match(integrity.message, new RegExp(squatter.user));
});
