/**
 * The 4.x readiness report on the real cluster (issue 17, item 5): each planted problem — a
 * mirroring policy left over and one still in use, a quorum queue without a delivery limit, a
 * transient queue, a consumer with a global prefetch, a mirrored queue the migration cannot move,
 * a lazy and a v1 classic queue — is found, in GET readiness/:vhost and as check's readiness_4x;
 * the strip action changes only the mirroring keys of the named policies, refuses a policy that
 * still mirrors queues, and is refused to a tenant who could not edit the vhost's policies by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqp from 'amqplib';
import { enc, type BrokerPolicy } from '../../src/broker/management-client.js';
import { admin, amqpUrl } from '../support/cluster.js';
import { waitFor } from '../support/checks-agreement.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import { assertExit, runCli } from './cli-support.js';

interface Report {
  ready_for_4x: boolean;
  items: Array<{ kind: string; severity: string; subjects: Array<{ type: string; name: string; detail?: string; new_definition?: unknown }> }>;
}

const putPolicy = (vhost: string, name: string, pattern: string, definition: Record<string, unknown>, priority = 0) =>
  admin().ok('PUT', `/policies/${enc(vhost)}/${enc(name)}`, { pattern, definition, 'apply-to': 'queues', priority });

test('readiness: every planted problem found (GET and check), strip changes only the mirroring keys of the named, unused policies; 400/409/403', async (t) => {
  const vhost = await testVhost(t);
  const s = await startTestSidecar(t, { env: { QMIG_STATE_VHOST: vhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true' } });
  const mgmt = admin();
  // Policies: one mirroring the queues to migrate, two left over (one with another key), one without mirroring.
  await putPolicy(vhost, 'live-ha', '^mirrored\\.', { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' }, 1);
  await putPolicy(vhost, 'old-ha', '^gone\\.', { 'ha-mode': 'all', 'ha-sync-mode': 'automatic', 'max-length': 1000 }, 2);
  await putPolicy(vhost, 'pure-ha', '^also-gone\\.', { 'ha-mode': 'exactly', 'ha-params': 2 }, 3);
  await putPolicy(vhost, 'limits', '^limited', { 'max-length-bytes': 1_000_000 }, 4);
  await mgmt.declareQueue(vhost, 'mirrored.orders', { durable: true });
  await mgmt.declareQueue(vhost, 'mirrored.autodelete', { durable: true, auto_delete: true });
  await mgmt.declareQueue(vhost, 'qq', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await mgmt.declareQueue(vhost, 'qq-limited', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 } });
  await mgmt.declareQueue(vhost, 'transient', { durable: false });
  await mgmt.declareQueue(vhost, 'lazy', { durable: true, arguments: { 'x-queue-mode': 'lazy', 'x-queue-version': 2 } });
  await mgmt.declareQueue(vhost, 'v1', { durable: true });
  await mgmt.declareQueue(vhost, 'v2', { durable: true, arguments: { 'x-queue-version': 2 } });
  // A consumer with a global prefetch (basic.qos global=true), held open during the test.
  const conn = await amqp.connect(amqpUrl(vhost));
  t.after(() => conn.close().catch(() => undefined));
  const ch = await conn.createChannel();
  await ch.prefetch(10, true);
  await ch.consume('v2', () => undefined);

  const get = async (auth?: { user: string; password: string }) => {
    const res = await s.api(`/api/queue-migration/readiness/${encodeURIComponent(vhost)}`, auth ? { auth } : {});
    return { status: res.status, body: await res.json() };
  };
  // The channel and the mirrors show up with the next statistics emission.
  let report!: Report;
  await waitFor('the global-prefetch channel and the mirrors in the report', async () => {
    const r = await get();
    assert.equal(r.status, 200, JSON.stringify(r.body));
    report = r.body;
    const found = (kind: string) => report.items.some((i) => i.kind === kind);
    return found('global_qos') && found('single_replica_classic') && report.items.some((i) => i.kind === 'mirroring_keys_in_policies' && i.severity === 'info');
  });
  assertSchema('readiness-response', report);
  const subjects = (kind: string, severity: string) =>
    report.items
      .filter((i) => i.kind === kind && i.severity === severity)
      .flatMap((i) => i.subjects)
      .map((x) => x.name);
  assert.equal(report.ready_for_4x, false);
  assert.deepEqual(subjects('mirroring_keys_in_policies', 'warning'), ['old-ha', 'pure-ha']);
  assert.deepEqual(subjects('mirroring_keys_in_policies', 'info'), ['live-ha']);
  const edits = report.items.flatMap((i) => i.subjects).filter((x) => x.type === 'policy');
  assert.deepEqual(edits.find((x) => x.name === 'old-ha')?.new_definition, { 'max-length': 1000 });
  assert.equal(edits.find((x) => x.name === 'pure-ha')?.new_definition, null);
  assert.deepEqual(subjects('delivery_limit', 'info'), ['mirrored.orders', 'qq']);
  assert.deepEqual(subjects('transient_queues', 'warning'), ['transient']);
  assert.equal(subjects('global_qos', 'warning').length, 1);
  assert.deepEqual(subjects('single_replica_classic', 'warning'), ['mirrored.autodelete']);
  assert.deepEqual(subjects('lazy_mode', 'info'), ['lazy']);
  assert.deepEqual(subjects('classic_queue_v1', 'info'), ['mirrored.autodelete', 'transient', 'v1']);

  // The same items are check's readiness_4x (a warning: it never blocks).
  const check = await s.api(`/api/queue-migration/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const checkBody = await check.json();
  assertSchema('check-response', checkBody);
  const r4 = checkBody.system_checks.checks.find((c: { check_type: string }) => c.check_type === 'readiness_4x');
  assert.equal(r4.status, 'warning');
  assert.deepEqual((r4.details.items as Report['items']).map((i) => i.kind).sort(), report.items.map((i) => i.kind).sort());

  // The CLI: the same report as text, exit 1 while warnings are left.
  const cliEnv = { QMIG_URL: s.url, QMIG_CLI_USER: 'guest', QMIG_CLI_PASSWORD: 'guest' };
  const text = await runCli(['readiness', '--vhost', vhost], cliEnv);
  assertExit(text, 1, 'qmig readiness');
  assert.match(text.stdout, /NOT READY for 4\.x/);
  assert.match(text.stdout, /WARNING mirroring_keys_in_policies/);
  assert.match(text.stdout, /pure-ha .*\(delete\)/);

  const strip = async (body: unknown, auth?: { user: string; password: string }) => {
    const res = await s.api(`/api/queue-migration/readiness/${encodeURIComponent(vhost)}/strip-mirroring-keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(auth ? { auth } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  const policiesNow = async () => Object.fromEntries((await mgmt.policies(vhost)).map((p: BrokerPolicy) => [p.name, p]));
  const before = await policiesNow();

  // Refusals change nothing.
  for (const [body, status, pattern] of [
    [{}, 400, /policies/],
    [{ policies: [] }, 400, /policies/],
    [{ policies: ['old-ha'], force: true }, 400, /force/],
    [{ policies: ['old-ha', 'nope'] }, 400, /no such policy.*nope/],
    [{ policies: ['old-ha', 'limits'] }, 400, /no mirroring keys: limits/],
    [{ policies: ['old-ha', 'live-ha'] }, 409, /live-ha mirrors 2 queue\(s\)/],
  ] as const) {
    const r = await strip(body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assertSchema('error-response', r.body);
    assert.match(r.body.reason, pattern);
  }
  // Tenants: a monitoring user, and a policymaker without permissions on this vhost.
  const monitoring = await testUser(t, ['monitoring'], [vhost]);
  const outsider = await testUser(t, ['policymaker'], []);
  for (const who of [monitoring, outsider]) {
    const r = await strip({ policies: ['old-ha'] }, who);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assertSchema('error-response', r.body);
  }
  assert.deepEqual(await policiesNow(), before, 'no refused call changed a policy');

  // The strip (through the CLI, whose --json is the route's answer): old-ha keeps max-length
  // (pattern, apply-to, priority unchanged), pure-ha is deleted, the rest untouched.
  const cli = await runCli(['readiness', '--vhost', vhost, '--strip', 'old-ha', '--strip', 'pure-ha', '--json'], cliEnv);
  assertExit(cli, 0, 'qmig readiness --strip');
  const ok = { body: JSON.parse(cli.stdout) };
  assertSchema('strip-mirroring-keys-response', ok.body);
  assert.deepEqual(ok.body.policies, [
    { policy: 'old-ha', removed_keys: ['ha-mode', 'ha-sync-mode'], deleted: false, definition: { 'max-length': 1000 } },
    { policy: 'pure-ha', removed_keys: ['ha-mode', 'ha-params'], deleted: true, definition: null },
  ]);
  const after = await policiesNow();
  assert.deepEqual(Object.keys(after).sort(), ['limits', 'live-ha', 'old-ha']);
  assert.deepEqual(after['old-ha'], { ...before['old-ha'], definition: { 'max-length': 1000 } });
  assert.deepEqual(after['live-ha'], before['live-ha']);
  assert.deepEqual(after.limits, before.limits);
  const again = (await get()).body as Report;
  assert.deepEqual(
    again.items.filter((i) => i.kind === 'mirroring_keys_in_policies').map((i) => [i.severity, i.subjects.map((x) => x.name)]),
    [['info', ['live-ha']]],
  );
});
