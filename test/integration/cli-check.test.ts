/**
 * `qmig check` as a child process against a live sidecar on the real test cluster: exit 0 on a
 * vhost ready to migrate, 1 on one with an unsuitable queue (0 again when unsuitable queues
 * are skipped), human tables and --json that matches the API schema, and check --all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { waitSynchronised } from './migration-support.js';
import { assertExit, assertNoSecrets, runCli, type CliResult } from './cli-support.js';

test('qmig check: ready (0) on a suitable vhost, not ready (1) on an unsuitable one, --json as the API answers', async (t) => {
  const ready = await testVhost(t, { suffix: '/ready&ü' });
  const unsuitable = await testVhost(t);
  for (const vhost of [ready, unsuitable]) await mirrorPolicy(vhost);
  for (let i = 0; i < 3; i++) await admin().declareQueue(ready, `ok-${i}`, { durable: true, node: cluster.nodeNames[i] });
  await admin().declareQueue(unsuitable, 'plain', { durable: true, node: cluster.nodeNames[0] });
  await admin().declareQueue(unsuitable, 'ttl-queue', { durable: true, node: cluster.nodeNames[1], arguments: { 'x-message-ttl': 60_000 } });
  await waitSynchronised(ready, 180_000);
  await waitSynchronised(unsuitable, 180_000);
  const caller = await testUser(t, ['administrator'], [ready, unsuitable]);
  const sidecar = await startTestSidecar(t, { env: { QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const env = { QMIG_URL: sidecar.url, QMIG_CLI_USER: caller.user, QMIG_CLI_PASSWORD: caller.password };
  const runs: CliResult[] = [];
  const qmig = async (...args: string[]) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };

  // Ready: exit 0, every system check listed with its status and message.
  const ok = await qmig('check', '--vhost', ready);
  assertExit(ok, 0, 'check of a ready vhost');
  assert.match(ok.stdout, new RegExp(`^vhost ${ready.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: READY$`, 'm'));
  assert.match(ok.stdout, /^queues: 3 total, 3 compatible, 0 unsuitable \(100% compatible\)$/m);
  assert.match(ok.stdout, /^ {2}STATUS\s+CHECK\s+MESSAGE$/m);
  assert.match(ok.stdout, /^ {2}warning\s+relaxed_checks_setting\s+\S/m, 'the relaxed check is a warning in warn-only mode');
  assert.match(ok.stdout, /^ {2}passed\s+queue_synchronization\s+\S/m);
  assert.doesNotMatch(ok.stdout, /unsuitable queues:/);
  const okJson = await qmig('check', '--vhost', ready, '--json');
  assertExit(okJson, 0);
  const okReport = JSON.parse(okJson.stdout);
  assertSchema('check-response', okReport);
  assert.equal(okReport.vhost, ready);
  assert.equal(okReport.overall_ready, true);
  for (const c of okReport.system_checks.checks) assert.match(ok.stdout, new RegExp(`^ {2}${c.status}\\s+${c.check_type}\\s`, 'm'));

  // Not ready: exit 1, the unsuitable queue with its type and reason.
  const bad = await qmig('check', '--vhost', unsuitable);
  assertExit(bad, 1, 'check of an unsuitable vhost');
  assert.match(bad.stdout, /: NOT READY$/m);
  assert.match(bad.stdout, /^unsuitable queues:$/m);
  assert.match(bad.stdout, /^ {2}ttl-queue\s+message_ttl\s+error\s+\S/m);
  const badJson = await qmig('check', '--json', '--vhost', unsuitable);
  assertExit(badJson, 1);
  const badReport = JSON.parse(badJson.stdout);
  assertSchema('check-response', badReport);
  assert.equal(badReport.overall_ready, false);
  assert.deepEqual(
    badReport.queue_checks.results.map((r: { queue: string; type: string }) => [r.queue, r.type]),
    [['ttl-queue', 'message_ttl']],
  );

  // Skipping unsuitable queues: the plain queue alone is ready.
  const skip = await qmig('check', '--vhost', unsuitable, '--skip-unsuitable', '--json');
  assertExit(skip, 0, 'check --skip-unsuitable');
  const skipReport = JSON.parse(skip.stdout);
  assertSchema('check-response', skipReport);
  assert.equal(skipReport.skip_unsuitable_queues, true);
  assert.equal(skipReport.overall_ready, true);

  // An unknown vhost: 404, exit 1, the API's JSON with --json.
  const missing = await qmig('check', '--vhost', 'no-such-vhost-cli', '--json');
  assertExit(missing, 1);
  assertSchema('error-response', JSON.parse(missing.stdout));
  assert.match(missing.stderr, /^qmig check: not found \(404\): vhost 'no-such-vhost-cli' does not exist$/m);

  // Every vhost: the exit code is the answer's overall_ready.
  const all = await qmig('check', '--all', '--json');
  const allReport = JSON.parse(all.stdout);
  assertSchema('check-all-response', allReport);
  assertExit(all, allReport.overall_ready ? 0 : 1, 'check --all');
  assert.equal(allReport.vhosts.find((r: { vhost: string }) => r.vhost === ready)?.overall_ready, true);
  assert.equal(allReport.vhosts.find((r: { vhost: string }) => r.vhost === unsuitable)?.overall_ready, false);

  assertNoSecrets(runs, [caller.password]);
});
