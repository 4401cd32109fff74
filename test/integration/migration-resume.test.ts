/**
 * A sidecar killed (SIGKILL) in the middle of a migration: one queue in the middle of its first
 * move (shovel running, nobody watching), one between the phases (classic deleted, messages in
 * the temporary queue), one in the middle of its second move. Housekeeping of another engine
 * finds the orphan (its lock died with the process), resumes every queue from where it is, lets
 * the clients back in, and nothing is lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterLock } from '../../src/state/cluster-lock.js';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { MigrationService } from '../../src/migration/migration-service.js';
import { admin } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { classicQueue, engineContext, engineSession, shovelsOf, waitForStatus, waitSynchronised } from './migration-support.js';
import { spawnEngine } from './crash-engine.js';
import { MIGRATION_LOCK } from '../../src/broker/names.js';

test('SIGKILL in phase 1, between the phases and in phase 2: housekeeping resumes the orphan and nothing is lost', async (t) => {
  const vhost = await testVhost(t);
  const { ctx, ids } = engineSession(t, vhost);
  const mgmt = admin();
  const app = await testUser(t, ['management'], [vhost]);
  await mgmt.setPermission(vhost, app.user, { configure: '^app\\.', write: '.*', read: '^app\\.|^in-' });
  const appPermission = await mgmt.permission(vhost, app.user);

  await mirrorPolicy(vhost, '.*');
  const queues = ['in-phase-1', 'between-phases', 'in-phase-2', 'waiting'];
  for (let i = 0; i < queues.length; i++) await classicQueue(vhost, queues[i], {}, i % 3);
  for (const q of queues) await mgmt.bindQueue(vhost, 'amq.direct', q, `rk-${q}`, {});
  await publish(vhost, { queue: 'in-phase-1' }, 3000);
  await publish(vhost, { queue: 'between-phases' }, 2000);
  await publish(vhost, { queue: 'in-phase-2' }, 2500);
  await publish(vhost, { queue: 'waiting' }, 10);
  await waitSynchronised(vhost);
  const before = new Map<string, string[]>();
  for (const q of queues) before.set(q, await fingerprint(vhost, q));

  const child = spawnEngine(t, vhost, [
    { queue: 'in-phase-1', at: 'shovel:to-temporary' },
    { queue: 'between-phases', at: 'step:declare_quorum' },
    { queue: 'in-phase-2', at: 'shovel:to-quorum' },
  ]);
  await child.waitFor((e) => e.filter((x) => x.hang).length === 3);
  const id = child.events.find((e) => e.started)!.started!;
  ids.push(id);
  // While the engine hangs, its clients are fenced out.
  assert.equal(await mgmt.permission(vhost, app.user), null);
  await child.kill();

  // The dead process's lock is free; its record still says in_progress.
  const lock = await ClusterLock.acquire(ctx.amqp, vhost, MIGRATION_LOCK);
  await lock.release();
  const orphan = (await ctx.store.loadRecord(id))!;
  assert.equal(orphan.status, 'in_progress');
  const stored = await ctx.store.loadQueues(orphan);
  const phaseOf = (name: string) => stored.find((q) => q.name === name)!;
  assert.equal(phaseOf('in-phase-1').phase, 'move_to_temporary');
  assert.equal(phaseOf('between-phases').location, 'temporary');
  assert.equal(await mgmt.queue(vhost, 'between-phases'), null, 'the classic queue was deleted before the crash');
  assert.equal(phaseOf('in-phase-2').phase, 'move_to_quorum');
  assert.ok((await shovelsOf(vhost)).length >= 1, 'the dead engine left shovels behind');

  const service = new MigrationService(ctx);
  const housekeeper = new Housekeeper(ctx, service);
  const report = await housekeeper.runOnce();
  assert.equal(report.ran, true);
  assert.deepEqual(report.errors, []);
  assert.deepEqual(service.running(), [id]);
  await service.whenFinished(id);

  const { record, queues: after } = await waitForStatus(ctx, id, ['completed', 'rollback_pending', 'failed', 'interrupted']);
  assert.equal(record.status, 'completed', `${record.error} ${JSON.stringify(after)}`);
  assert.ok(record.notes.some((n) => /resumed by/.test(n)));
  assert.equal(record.owner, ctx.instanceId);
  for (const q of after) assert.equal(q.status, 'completed', q.name);
  for (const q of queues) {
    const info = (await mgmt.queue(vhost, q))!;
    assert.equal(info.type, 'quorum', q);
    assert.deepEqual(await fingerprint(vhost, q), before.get(q), `${q}: messages`);
    const bindings = (await mgmt.queueBindings(vhost, q)).filter((b) => b.source !== '').map((b) => `${b.source}/${b.routing_key}`);
    assert.deepEqual(bindings, [`amq.direct/rk-${q}`]);
  }
  assert.deepEqual(await shovelsOf(vhost), []);
  assert.deepEqual(
    (await mgmt.queues(vhost)).filter((q) => q.name.startsWith('qmig.tmp.')).map((q) => q.name),
    [],
  );
  assert.deepEqual(await mgmt.permission(vhost, app.user), appPermission, 'client permissions restored by the resumer');

  // The next housekeeping run finds nothing to do for this vhost.
  const again = await housekeeper.runOnce();
  assert.equal(again.ran, true);
  assert.ok(!again.unexplainedShovels.some((s) => s.vhost === vhost));
  assert.ok(!again.unexplainedTemporaryQueues.some((s) => s.vhost === vhost));
  await housekeeper.stop();
});

test('housekeeping: only one runner at a time, and it reports shovels and temporary queues no record explains', async (t) => {
  const vhost = await testVhost(t);
  const ctx = engineContext(t, vhost);
  const mgmt = admin();
  await mgmt.declareQueue(vhost, 'qmig.tmp.stray', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await mgmt.declareQueue(vhost, 'src', { durable: true, arguments: {} });
  await mgmt.putShovel(vhost, 'qmig.shovel.stray.to-quorum', {
    'src-uri': `amqp:///${encodeURIComponent(vhost)}`,
    'src-queue': 'src',
    'dest-uri': `amqp:///${encodeURIComponent(vhost)}`,
    'dest-queue': 'qmig.tmp.stray',
    'ack-mode': 'on-confirm',
    'src-delete-after': 'never',
  });
  t.after(() => mgmt.deleteShovel(vhost, 'qmig.shovel.stray.to-quorum').catch(() => undefined));
  const resumed: string[] = [];
  // Slow enough that the other runner's attempt falls inside this one's turn.
  const engine = {
    resumeOrphans: async () => {
      resumed.push('called');
      await new Promise((r) => setTimeout(r, 1000));
    },
  };
  const a = new Housekeeper(ctx, engine);
  const b = new Housekeeper(engineContext(t, vhost), engine);
  const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
  assert.equal([ra, rb].filter((r) => r.ran).length, 1, 'exactly one runner per tick');
  const ran = ra.ran ? ra : rb;
  assert.equal(resumed.length, 1);
  assert.ok(ran.unexplainedShovels.some((s) => s.vhost === vhost && s.name === 'qmig.shovel.stray.to-quorum'));
  assert.ok(ran.unexplainedTemporaryQueues.some((s) => s.vhost === vhost && s.name === 'qmig.tmp.stray'));
  assert.notEqual(await mgmt.queue(vhost, 'qmig.tmp.stray'), null, 'reported, never deleted');
});
