/**
 * Issue 14 item 5: no secret in reach.
 * - A transfer's shovels (runtime parameters of the SOURCE vhost, readable by its policymakers)
 *   never carry the target administrator's password: they log in as a temporary user created on
 *   the target with permissions on the target vhost only, deleted at the end — also on cancel —
 *   and, after a crash, by source housekeeping (its shovel definitions) and the next transfer
 *   (the user). Real source and target clusters; the reader of the shovels is a policymaker.
 * - Log redaction and `qmig config --check` never show passwords containing / @ : % #.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { enc, ManagementClient } from '../../src/broker/management-client.js';
import { redact } from '../../src/logging.js';
import { Housekeeper } from '../../src/migration/housekeeping.js';
import { TransferService } from '../../src/transfer/transfer-service.js';
import { admin, cluster } from '../support/cluster.js';
import { publish } from '../support/messages.js';
import { spawnSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import {
  cleanupTargetVhost,
  cleanupTransferRecords,
  countAt,
  eventually,
  sourceContext,
  targetAdmin,
  targetAmqpUrl,
  targetCluster,
  targetUser,
} from '../integration/transfer-support.js';

const HOSTILE = `T/rg@t:Adm%n#${randomBytes(3).toString('hex')}`;

function credentialsIn(uri: string): { user: string; password: string } {
  // dest-uri is amqp://user:password@host:port/vhost with both percent-encoded.
  const userinfo = uri.slice(uri.indexOf('://') + 3, uri.lastIndexOf('@'));
  const colon = userinfo.indexOf(':');
  return { user: decodeURIComponent(userinfo.slice(0, colon)), password: decodeURIComponent(userinfo.slice(colon + 1)) };
}

async function targetUserExists(name: string): Promise<boolean> {
  return (await targetAdmin().request('GET', `/users/${enc(name)}`)).status === 200;
}

test('shovels log in to the target as a temporary vhost-only user, never with the administrator password; it is deleted at the end', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx } = sourceContext(t, { QMIG_TRANSFER_CONCURRENCY: '1', QMIG_TRANSFER_PREFETCH: '50' });
  const tgtAdmin = await targetUser(t, ['administrator'], HOSTILE);
  // A policymaker of the source vhost: may read the vhost's shovel parameters.
  const reader = await testUser(t, ['policymaker'], [vhost]);
  const asReader = new ManagementClient({ baseUrl: cluster.managementUrls[0], user: reader.user, password: reader.password });
  await admin().declareQueue(vhost, 'q.one', { durable: true });
  await admin().declareQueue(vhost, 'q.two', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(vhost, { queue: 'q.one' }, 8_000);
  await publish(vhost, { queue: 'q.two' }, 1_000);

  const service = new TransferService(ctx, { pollMs: 100 });
  t.after(() => service.shutdown());
  const { transfer_id } = await service.start(
    { target: targetCluster.managementUrl, target_user: tgtAdmin.user, target_password: HOSTILE, reason: 'secrets', vhost, everything: true },
    'guest',
  );

  // What the policymaker sees while the shovels run.
  const seen = new Set<string>();
  let permissionsWhileRunning: unknown[] | null = null;
  let tagsWhileRunning: string | null = null;
  const done = service.whenFinished(transfer_id);
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const params = await asReader.ok<Array<{ value: Record<string, unknown> }>>('GET', `/parameters/shovel/${enc(vhost)}`).catch(() => []);
    for (const p of params) {
      const uri = String(p.value['dest-uri']);
      if (seen.has(uri)) continue;
      seen.add(uri);
      const { user } = credentialsIn(uri);
      permissionsWhileRunning ??= await targetAdmin()
        .ok<unknown[]>('GET', `/users/${enc(user)}/permissions`)
        .catch(() => null);
      tagsWhileRunning ??= await targetAdmin()
        .ok<{ tags: string | string[] }>('GET', `/users/${enc(user)}`)
        .then(
          (u) => [u.tags].flat().join(','),
          () => null,
        );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const record = await service.get(transfer_id);
  assert.equal(record.status, 'completed', JSON.stringify(record.queues.map((q) => q.error)));
  // The transfer created the target vhost for its administrator; let the counting user in.
  await targetAdmin().setPermission(vhost, targetCluster.user, { configure: '.*', write: '.*', read: '.*' });
  assert.equal(await countAt(targetAmqpUrl(vhost), 'q.one'), 8_000);
  assert.equal(await countAt(targetAmqpUrl(vhost), 'q.two'), 1_000);

  assert.ok(seen.size > 0, 'the policymaker saw the shovel definitions');
  for (const uri of seen) {
    assert.ok(!uri.includes(HOSTILE) && !uri.includes(encodeURIComponent(HOSTILE)), 'the administrator password is not in dest-uri');
    const { user, password } = credentialsIn(uri);
    assert.notEqual(user, tgtAdmin.user);
    assert.match(user, /^qmig-shovel-[0-9a-f]{8}-[0-9a-f]{16}$/);
    assert.equal(user, record.target_shovel_user);
    assert.ok(password.length >= 30, 'a random password');
  }
  assert.deepEqual(
    (permissionsWhileRunning as Array<{ vhost: string; configure: string; write: string; read: string }>).map((p) => [p.vhost, p.configure, p.write, p.read]),
    [[vhost, '^(q\\.one|q\\.two)$', '^amq\\.default$', '^(q\\.one|q\\.two)$']],
    'permissions on the transfer vhost only, on exactly its queues',
  );
  assert.equal(tagsWhileRunning, '', 'no tag: no management access');
  assert.equal(await targetUserExists(record.target_shovel_user!), false, 'deleted at the end');
});

test('cancel deletes the temporary user; after a crash housekeeping deletes the shovels and the next transfer the user', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx } = sourceContext(t, { QMIG_TRANSFER_CONCURRENCY: '1', QMIG_TRANSFER_PREFETCH: '50' });
  await admin().declareQueue(vhost, 'big', { durable: true });
  await publish(vhost, { queue: 'big' }, 30_000);
  const service = new TransferService(ctx, { pollMs: 100 });
  t.after(() => service.shutdown());
  const body = {
    target: targetCluster.managementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'cancel',
    vhost,
    queue_names: ['big'],
  };
  const { transfer_id } = await service.start(body, 'guest');
  const running = await eventually(
    async () => {
      const r = await service.get(transfer_id);
      return r.target_shovel_user && (await targetUserExists(r.target_shovel_user)) ? r : null;
    },
    60_000,
    'the temporary user to exist',
  );
  await service.cancel(transfer_id, 'guest');
  assert.equal((await service.get(transfer_id)).status, 'cancelled');
  assert.equal(await targetUserExists(running.target_shovel_user!), false, 'cancel deleted the temporary user');

  // What a sidecar killed mid-transfer leaves: the temporary user on the target and a shovel
  // definition holding its password at the source, for a transfer that is no longer active.
  const leftoverUser = running.target_shovel_user!.replace(/-[0-9a-f]{16}$/, '-' + 'ab'.repeat(8)); // this cluster's tag, another transfer
  const foreignUser = `qmig-shovel-00000000-${'cd'.repeat(8)}`; // another source cluster's: not ours to delete
  for (const u of [leftoverUser, foreignUser]) {
    await targetAdmin().ok('PUT', `/users/${enc(u)}`, { password: randomBytes(12).toString('hex'), tags: '' });
    t.after(() =>
      targetAdmin()
        .deleteIfExists(`/users/${enc(u)}`)
        .catch(() => undefined),
    );
  }
  const staleShovel = `qmig-xfer-${'Z'.repeat(24)}-0-0`;
  await admin().putShovel(vhost, staleShovel, {
    'src-uri': `amqp:///${enc(vhost)}`,
    'src-queue': 'big',
    'dest-uri': `amqp://${leftoverUser}:pw@127.0.0.1:1/${enc(vhost)}`,
    'dest-queue': 'big',
    'ack-mode': 'on-confirm',
    'reconnect-delay': 5,
  });
  const report = await new Housekeeper(ctx, { resumeOrphans: async () => undefined }).runOnce();
  assert.ok(report.transferShovelsDeleted.includes(`${vhost}/${staleShovel}`), JSON.stringify(report));
  assert.equal(await ctx.mgmt.shovelParameter(vhost, staleShovel), null, 'housekeeping deleted the stale shovel (and the password in it)');

  const second = await service.start({ ...body, queue_names: ['big'] }, 'guest');
  await service.whenFinished(second.transfer_id);
  const record = await service.get(second.transfer_id);
  assert.equal(record.status, 'completed', JSON.stringify(record.queues.map((q) => q.error)));
  assert.ok(
    record.notes.some((n) => /deleted 1 temporary shovel user/.test(n)),
    JSON.stringify(record.notes),
  );
  assert.equal(await targetUserExists(leftoverUser), false, 'the next transfer deleted the leftover user');
  assert.equal(await targetUserExists(foreignUser), true, "another cluster's user is left alone");
  assert.equal(await targetUserExists(record.target_shovel_user!), false);
});

test('log redaction and config --check never show passwords containing / @ : % #', async (t) => {
  for (const pw of ['p/ss', 'p@ss', 'a:b', '10%', 'x#y', '123/abc', HOSTILE]) {
    const line = JSON.stringify(redact({ message: `shovel dest amqp://app:${pw}@10.1.2.3:5672/%2F refused`, uri: `https://app:${pw}@h/api` }));
    assert.ok(!line.includes(`app:${pw}`) && !line.includes(pw.length > 4 ? pw : `:${pw}@`), `${pw}: ${line}`);
  }
  const secret = `Hunter2/x${randomBytes(3).toString('hex')}`;
  const cases: Array<Record<string, string>> = [
    { QMIG_MANAGEMENT_URL: `http://svc:${secret}@rabbit:99999` }, // not a valid URL: echoed in the error
    { QMIG_PEERS: `http://ok:15680,http://svc:${secret}@peer:99999` },
    { QMIG_PASSWORD: secret, QMIG_LOG_LEVEL: 'loud' },
    { QMIG_PASSWORD: '' },
  ];
  for (const env of cases) {
    const child = await spawnSidecar(t, { env: { QMIG_USER: 'svc', ...env }, args: ['config', '--check'], waitForListening: false });
    assert.equal(await child.exited, 2, child.output());
    assert.match(child.output(), /invalid configuration/);
    assert.ok(!child.output().includes(secret) && !child.output().includes('Hunter2'), child.output());
  }
});
