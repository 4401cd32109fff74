/**
 * `qmig bluegreen start / status / cutover / cancel` as child processes against a live sidecar,
 * draining a vhost into the independent target cluster: a drain started (exit 0), its messages on
 * the target, the list and the detail (human and --json, validated against the schemas), a
 * cut-over followed with --wait to `completed` (exit 0), a second drain cancelled, refusals
 * (exit 1: an ended drain, an unknown id), usage errors (exit 2) before anything is sent, the
 * drain counters on the sidecar's /metrics, and neither password ever printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin } from '../support/cluster.js';
import { publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import { assertExit, assertNoSecrets, runCli, type CliResult } from './cli-support.js';
import { cleanupTargetVhost, countAt, eventually, sourceAmqpUrl, targetAmqpUrl, targetCluster, targetUser } from './transfer-support.js';

test('qmig bluegreen start, status, cutover --wait, cancel', { timeout: 240_000 }, async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  await admin().ok('PUT', `/policies/${encodeURIComponent(vhost)}/ha`, { pattern: '^b', definition: { 'ha-mode': 'all' }, 'apply-to': 'queues' });
  await admin().declareQueue(vhost, 'b1', { durable: true });
  await admin().declareQueue(vhost, 'b2', { durable: true });
  await publish(vhost, { queue: 'b1' }, 15);
  await publish(vhost, { queue: 'b2' }, 5);
  const caller = await testUser(t, ['administrator'], [vhost]);
  const target = await targetUser(t, ['administrator']);
  const stateVhost = await testVhost(t);
  const sidecar = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost } });
  const env = { QMIG_URL: sidecar.url, QMIG_CLI_USER: caller.user, QMIG_CLI_PASSWORD: caller.password, QMIG_TARGET_PASSWORD: target.password };
  const runs: CliResult[] = [];
  const qmig = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const r = await runCli(args, { ...env, ...extraEnv });
    runs.push(r);
    return r;
  };
  const startArgs = ['bluegreen', 'start', '--vhost', vhost, '--target', targetCluster.managementUrl, '--target-user', target.user];
  const detailOf = async (id: string) => {
    const r = await qmig(['bluegreen', 'status', id, '--json']);
    assertExit(r, 0, 'bluegreen status ID --json');
    const d = JSON.parse(r.stdout);
    assertSchema('bluegreen-status-response', d);
    return d;
  };
  // A drain left running by a failed assertion is cancelled (its links stopped) before the vhosts go.
  const started: string[] = [];
  t.after(async () => {
    for (const id of started) await runCli(['bluegreen', 'cancel', id], env).catch(() => undefined);
  });

  // 1. Usage errors: nothing is sent (exit 2).
  const noReason = await qmig(startArgs);
  assertExit(noReason, 2);
  assert.match(noReason.stderr, /--reason is required/);
  const badIdle = await qmig([...startArgs, '--reason', 'r', '--idle-seconds', '0']);
  assertExit(badIdle, 2);
  assert.match(badIdle.stderr, /--idle-seconds must be a number between 1 and 86400/);
  const fraction = await qmig([...startArgs, '--reason', 'r', '--idle-seconds', '1.5']);
  assertExit(fraction, 2);
  assert.match(fraction.stderr, /--idle-seconds must be a whole number/);
  const unknownSub = await qmig(['bluegreen', 'drain']);
  assertExit(unknownSub, 2);
  assert.match(unknownSub.stderr, /unknown subcommand 'drain': use plan, definitions, start, status, cutover, cancel/);

  // 2. Start: the definitions applied, the queues drained to the target.
  const start = await qmig([...startArgs, '--reason', 'cli drill: blue-green', '--idle-seconds', '1']);
  assertExit(start, 0, 'bluegreen start');
  const id = /^drain started: (\S+)$/m.exec(start.stdout)?.[1];
  assert.ok(id, start.stdout);
  started.push(id);
  const drained = await eventually(
    async () => {
      const d = await detailOf(id);
      return d.totals.source_messages === 0 && d.totals.target_messages === 20 ? d : null;
    },
    90_000,
    'every message on the target',
  );
  assert.equal(drained.status, 'draining');
  assert.equal(drained.reason, 'cli drill: blue-green');
  assert.equal(drained.who, caller.user);
  assert.deepEqual(drained.queues.map((q: any) => q.name).sort(), ['b1', 'b2']);
  const at = targetAmqpUrl(vhost, target.user, target.password);
  assert.equal(await countAt(at, 'b1'), 15);
  assert.equal(await countAt(at, 'b2'), 5);
  // The running drain's backlog on either side, as its monitor last saw it (the sidecar ran the start).
  await eventually(
    async () => {
      const text = await (await fetch(`${sidecar.url}/metrics`)).text();
      const gauge = (side: string) => new RegExp(`^qmig_bluegreen_backlog_messages\\{drain_id="${id}",side="${side}"\\} (\\d+)$`, 'm').exec(text)?.[1];
      return gauge('source') === '0' && gauge('target') === '20';
    },
    15_000,
    'the backlog gauges: 0 at the source, 20 at the target',
  );

  // 3. status: the list and the detail for people.
  const listJson = await qmig(['bluegreen', 'status', '--json']);
  assertExit(listJson, 0);
  const list = JSON.parse(listJson.stdout);
  assertSchema('bluegreen-list-response', list);
  assert.equal(list.find((d: any) => d.drain_id === id)?.status, 'draining');
  const listHuman = await qmig(['bluegreen', 'status']);
  assertExit(listHuman, 0);
  assert.match(listHuman.stdout, /^STATUS\s+QUEUES\s+AT SOURCE\s+AT TARGET\s+VHOST\s+TARGET\s+STARTED\s+ID$/m);
  assert.match(listHuman.stdout, new RegExp(`^draining\\s+2\\s+0\\s+20\\s+${vhost}\\s+.+${id}$`, 'm'));
  const detailHuman = await qmig(['bluegreen', 'status', id]);
  assertExit(detailHuman, 0);
  assert.match(detailHuman.stdout, /^reason:\s+cli drill: blue-green$/m);
  assert.match(detailHuman.stdout, /^messages:\s+0 at the source, 20 at the target$/m);
  assert.match(detailHuman.stdout, /^b1\s+(idle|draining)\s+0\s+0\s+no\s+15\s+0\s+running$/m);

  // 4. Cut-over, followed to its end: the links and the temporary user gone, the source queues kept.
  const cut = await qmig(['bluegreen', 'cutover', id, '--wait']);
  assertExit(cut, 0, 'bluegreen cutover --wait');
  assert.match(cut.stdout, new RegExp(`^cut-over requested for drain ${id}$`, 'm'));
  assert.match(cut.stdout, new RegExp(`^drain ${id} completed$`, 'm'));
  const done = await detailOf(id);
  assert.equal(done.status, 'completed');
  assert.deepEqual(await admin().shovelParameters(vhost), [], 'no link left at the source');
  const users = await (await fetch(`${targetCluster.managementUrl}/api/users`, { headers: { authorization: basic() } })).json();
  assert.ok(!(users as Array<{ name: string }>).some((u) => u.name === done.target_shovel_user), 'the temporary target user is deleted');
  assert.deepEqual((await admin().queues(vhost, ['name'])).map((q) => q.name).sort(), ['b1', 'b2']);

  // 5. An ended drain is refused (exit 1), as is an unknown id.
  const again = await qmig(['bluegreen', 'cutover', id]);
  assertExit(again, 1);
  assert.match(again.stderr, /\(409\)/);
  const unknown = await qmig(['bluegreen', 'status', 'bm8tc3VjaC1kcmFpbg']);
  assertExit(unknown, 1);
  assert.match(unknown.stderr, /not found \(404\)/);

  // 6. A second drain of the same vhost (definitions all the same now), cancelled.
  await publish(vhost, { queue: 'b2' }, 4);
  const second = await qmig([...startArgs, '--reason', 'cancel drill', '--json']);
  assertExit(second, 0, 'bluegreen start --json');
  const accepted = JSON.parse(second.stdout);
  assertSchema('bluegreen-start-response', accepted);
  started.push(accepted.drain_id);
  const cancel = await qmig(['bluegreen', 'cancel', accepted.drain_id]);
  assertExit(cancel, 0, 'bluegreen cancel');
  assert.match(cancel.stdout, new RegExp(`^drain ${accepted.drain_id} cancelled$`, 'm'));
  assert.equal((await detailOf(accepted.drain_id)).status, 'cancelled');
  // Nothing lost: the 4 new messages are at the source or the target (both within the links' window).
  const left = await countAt(sourceAmqpUrl(vhost), 'b2');
  assert.ok((await countAt(at, 'b2')) - 5 + left >= 4);

  // 7. The sidecar counted both drains' ends.
  const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
  assert.match(metrics, /^qmig_bluegreen_drains_finished_total\{status="completed"\} 1$/m);
  assert.match(metrics, /^qmig_bluegreen_drains_finished_total\{status="cancelled"\} 1$/m);
  assert.match(metrics, /^qmig_bluegreen_drains_started_total 2$/m);
  assert.doesNotMatch(metrics, new RegExp(`qmig_bluegreen_backlog_messages\\{drain_id="${id}"`), 'an ended drain has no backlog series');

  assertNoSecrets(runs, [caller.password, target.password]);
});

function basic(): string {
  return 'Basic ' + Buffer.from(`${targetCluster.user}:${targetCluster.password}`).toString('base64');
}
