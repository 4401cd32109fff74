/**
 * `qmig xfer / xfer-status / xfer-cancel` as child processes against a live sidecar, moving
 * queues to the independent target cluster: a transfer followed to completion (exit 0, messages
 * on the target), the list and the detail with the reason, idempotent cancel, a cancel right
 * after a start, a refused transfer (exit 1), selections checked before anything is sent (exit 2),
 * and neither the caller's nor the target's password ever printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cluster } from '../support/cluster.js';
import { publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import { assertExit, assertNoSecrets, jsonLines, runCli, type CliResult } from './cli-support.js';
import { cleanupTargetVhost, cleanupTransferRecords, countAt, eventually, targetAmqpUrl, targetCluster, targetUser } from './transfer-support.js';

test('qmig xfer --watch to the target cluster, xfer-status, xfer-cancel', async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  await admin().declareQueue(vhost, 'x1', { durable: true });
  await admin().declareQueue(vhost, 'x2', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(vhost, { queue: 'x1' }, 15);
  await publish(vhost, { queue: 'x2' }, 5);
  const caller = await testUser(t, ['administrator'], [vhost]);
  const target = await targetUser(t, ['administrator']);
  // Its own state vhost: the one-transfer-at-a-time lock of this sidecar is not other suites'.
  const stateVhost = await testVhost(t);
  const sidecar = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost } });
  const env = { QMIG_URL: sidecar.url, QMIG_CLI_USER: caller.user, QMIG_CLI_PASSWORD: caller.password, QMIG_TARGET_PASSWORD: target.password };
  const runs: CliResult[] = [];
  const qmig = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const r = await runCli(args, { ...env, ...extraEnv });
    runs.push(r);
    return r;
  };
  const xferArgs = ['xfer', '--target', targetCluster.managementUrl, '--target-user', target.user, '--vhost', vhost];

  // 1. One queue, followed to its end with plain lines; the password from QMIG_TARGET_PASSWORD.
  const moved = await qmig([...xferArgs, '--reason', 'cli drill: blue-green', '--queue', 'x1', '--watch', '--interval', '0.3']);
  assertExit(moved, 0, 'xfer --watch');
  const id = /^transfer started: (\S+)$/m.exec(moved.stdout)?.[1];
  assert.ok(id, moved.stdout);
  assert.match(moved.stdout, /^ {2}x1: completed 15\/15 \(100%\)$/m);
  assert.match(moved.stdout, /^completed: 1\/1 queues done, 15\/15 messages$/m);
  assert.match(moved.stdout, new RegExp(`^transfer ${id} ended completed$`, 'm'));
  assert.equal(await countAt(targetAmqpUrl(vhost, target.user, target.password), 'x1'), 15);

  // 2. xfer-status: the list and the detail, human and --json.
  const listJson = await qmig(['xfer-status', '--json']);
  assertExit(listJson, 0);
  const list = JSON.parse(listJson.stdout);
  assertSchema('xfer-list', list);
  assert.equal(list.transfers.find((x: any) => x.id === id)?.status, 'completed');
  const listHuman = await qmig(['xfer-status']);
  assertExit(listHuman, 0);
  assert.match(listHuman.stdout, /^STATUS\s+QUEUES\s+MESSAGES\s+VHOST\s+TARGET\s+STARTED\s+ID$/m);
  assert.match(listHuman.stdout, new RegExp(`^completed\\s+1/1\\s+15/15\\s+${vhost}\\s+.+${id}$`, 'm'));
  const detailJson = await qmig(['xfer-status', id, '--json']);
  assertExit(detailJson, 0);
  const detail = JSON.parse(detailJson.stdout);
  assertSchema('xfer-record', detail);
  assert.equal(detail.reason, 'cli drill: blue-green');
  assert.equal(detail.who, caller.user);
  const detailHuman = await qmig(['xfer-status', id]);
  assertExit(detailHuman, 0);
  assert.match(detailHuman.stdout, /^reason:\s+cli drill: blue-green$/m);
  assert.match(detailHuman.stdout, /^selection:\s+queues x1$/m);
  assert.match(detailHuman.stdout, /^x1\s+completed\s+15\/15\s+0\s+no\s*$/m);

  // 3. Cancel of a finished transfer: idempotent, exit 0, nothing to cancel.
  const cancelDone = await qmig(['xfer-cancel', id]);
  assertExit(cancelDone, 0);
  assert.match(cancelDone.stdout, new RegExp(`^transfer ${id} is already completed: nothing to cancel$`, 'm'));
  const cancelDoneJson = await qmig(['xfer-cancel', id, '--json']);
  assertExit(cancelDoneJson, 0);
  const cancelBody = JSON.parse(cancelDoneJson.stdout);
  assertSchema('xfer-cancel-response', cancelBody);
  assert.deepEqual(cancelBody, { transfer_id: id, status: 'completed', cancel_requested: false });

  // 4. Start by pattern (password on the command line this time, --json), cancel at once.
  const second = await qmig([...xferArgs, '--reason', 'cancel drill', '--pattern', '^x2$', '--target-password', target.password, '--json'], {
    QMIG_TARGET_PASSWORD: '',
  });
  assertExit(second, 0, 'xfer --pattern --json');
  const accepted = JSON.parse(second.stdout);
  assertSchema('xfer-accepted', accepted);
  const cancel = await qmig(['xfer-cancel', accepted.transfer_id, '--json']);
  assertExit(cancel, 0, 'xfer-cancel');
  assertSchema('xfer-cancel-response', JSON.parse(cancel.stdout));
  const ended = await eventually(
    async () => {
      const r = JSON.parse((await qmig(['xfer-status', accepted.transfer_id, '--json'])).stdout);
      return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : null;
    },
    60_000,
    'the cancelled transfer to end',
  );
  assertSchema('xfer-record', ended);
  assert.ok(['cancelled', 'completed'].includes(ended.status), ended.status);
  // Nothing lost: the 5 messages are on exactly one side (or both within the shovel's window).
  const [left, there] = [ended.queues[0].left_at_source ?? 0, ended.queues[0].moved_messages];
  assert.ok(left + there >= 5, JSON.stringify(ended.queues[0]));

  // 5. A transfer with everything + --watch --json: the accepted document then one per change.
  await publish(vhost, { queue: 'x1' }, 3);
  const all = await qmig([...xferArgs, '--reason', 'everything', '--everything', '--watch', '--json', '--interval', '0.3']);
  const docs = jsonLines(all.stdout) as any[];
  assertSchema('xfer-accepted', docs[0]);
  for (const d of docs.slice(1)) assertSchema('xfer-record', d);
  const final = docs.at(-1);
  assertExit(all, final.status === 'completed' ? 0 : 1, 'xfer --everything --watch exit code by final status');
  assert.deepEqual(final.queues.map((q: any) => q.name).sort(), ['x1', 'x2']);

  // 6. Refused by the sidecar (the target rejects the credentials): exit 1 with the reason.
  const wrongSecret = 'Wr0ng-Target-Secret-xyz';
  const refused = await qmig([...xferArgs, '--reason', 'bad', '--queue', 'x1'], { QMIG_TARGET_PASSWORD: wrongSecret });
  assertExit(refused, 1, 'xfer with a wrong target password');
  assert.match(refused.stderr, /^qmig xfer: refused \(400\): .*target rejected the credentials/m);
  // The target is this same cluster: refused.
  const same = await qmig(
    ['xfer', '--target', cluster.managementUrls[0], '--target-user', cluster.user, '--vhost', vhost, '--reason', 'loop', '--everything'],
    { QMIG_TARGET_PASSWORD: cluster.password },
  );
  assertExit(same, 1);
  assert.match(same.stderr, /same cluster/);

  // 7. Checked before anything is sent: exit 2.
  const none = await qmig([...xferArgs, '--reason', 'r']);
  assertExit(none, 2);
  assert.match(none.stderr, /choose what to transfer: --queue Q \(repeatable\), --pattern P, or --everything/);
  assertExit(await qmig([...xferArgs, '--reason', 'r', '--queue', 'x1', '--everything']), 2);
  const noReason = await qmig([...xferArgs, '--queue', 'x1']);
  assertExit(noReason, 2);
  assert.match(noReason.stderr, /--reason is required/);
  const noPassword = await qmig([...xferArgs, '--reason', 'r', '--queue', 'x1'], { QMIG_TARGET_PASSWORD: '' });
  assertExit(noPassword, 2);
  assert.match(noPassword.stderr, /QMIG_TARGET_PASSWORD/);

  // 8. Unknown transfer: exit 1.
  const unknown = await qmig(['xfer-cancel', 'bm8tc3VjaC10cmFuc2Zlcg']);
  assertExit(unknown, 1);
  assert.match(unknown.stderr, /not found \(404\)/);
  assertExit(await qmig(['xfer-status', 'bm8tc3VjaC10cmFuc2Zlcg']), 1);

  assertNoSecrets(runs, [caller.password, target.password, wrongSecret]);
});
