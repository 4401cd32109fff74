/**
 * Blue-green, definitions first, over HTTP against the real source and target clusters: the
 * routers mounted the way the sidecar mounts them (request context, the real Authenticator, the
 * sidecar's administrator gate, the error mapper).
 * - plan of a vhost with mirrored, prioritised, dead-lettering, non-mirrored, transient and quorum
 *   queues, an exchange-to-exchange binding and headers bindings: every object `create`, the
 *   mirrored queues quorum with translateArguments' arguments, ha keys stripped;
 * - apply: the target's exported definitions equal the plan's (normal form), the audit line has
 *   the reason; planned again: every object `same`; applied again: nothing created;
 * - a conflicting object on the target: plan shows it, apply answers 409 definitions_conflict and
 *   the target is unchanged;
 * - a management-tagged user is refused on both endpoints with the error the xfer routes give;
 * - `qmig bluegreen plan` / `definitions` through a real sidecar (its wiring in sidecar.ts), exit codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express, { type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import { readVhostDefinitions } from '../../src/bluegreen/definitions-io.js';
import { normalDefinitions } from '../../src/bluegreen/definitions.js';
import { enc } from '../../src/broker/management-client.js';
import { Authenticator, requireAdministrator } from '../../src/http/auth.js';
import { errorMapper } from '../../src/http/error-mapper.js';
import { locals, requestContext } from '../../src/http/request-context.js';
import { blueGreenRouter } from '../../src/http/routes/bluegreen.js';
import { transferRouter } from '../../src/http/routes/transfers.js';
import { translateArguments } from '../../src/migration/argument-translation.js';
import { admin, cluster } from '../support/cluster.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';
import { assertExit, assertNoSecrets, runCli, type CliResult } from './cli-support.js';
import { cleanupTargetVhost, eventually, sourceContext, targetAdmin, targetCluster } from './transfer-support.js';

const P = '/api/queue-migration';
type After = { after(fn: () => unknown): void };
type Who = { user: string; password: string } | null;

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

/** The bluegreen and xfer routers on a local port; `call` answers status and parsed JSON. */
async function serve(t: After) {
  const handle = sourceContext(t);
  const auth = new Authenticator(handle.ctx);
  const authenticate: RequestHandler = async (req, res, next) => {
    locals(res).caller = await auth.authenticate(req);
    next();
  };
  const app = express();
  app.use(requestContext);
  app.use(P, authenticate, transferRouter(handle.ctx, requireAdministrator), blueGreenRouter(handle.ctx, requireAdministrator));
  app.use(errorMapper);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (path: string, body: unknown, who: Who = { user: cluster.user, password: cluster.password }) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (who) headers.authorization = basic(who.user, who.password);
    const res = await fetch(base + P + path, { method: 'POST', headers, body: JSON.stringify(body) });
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${path} → ${res.status} not JSON: ${text.slice(0, 200)}`);
    assert.ok(!text.includes('Tgt-Pw'), 'the target password is never in an answer');
    return { status: res.status, body: JSON.parse(text) };
  };
  return { ...handle, call };
}

const targetBody = () => ({ target: targetCluster.managementUrl, target_user: targetCluster.user, target_password: targetCluster.password });

/** The source vhost's queues: name, arguments, durable (default true). `m.`/`h.` are mirrored by policy. */
const SOURCE_QUEUES: Array<[string, Record<string, unknown>, boolean?]> = [
  ['m.prio', { 'x-max-priority': 5 }],
  ['m.dlx', { 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead', 'x-message-ttl': 5000 }],
  ['m.plain', {}],
  ['m.lazy', { 'x-queue-mode': 'lazy' }],
  ['h.one', {}],
  ['h.two', { 'x-max-length': 10, 'x-overflow': 'reject-publish' }],
  ['h.transient', {}, false],
  ['plain.classic', { 'x-max-length': 100 }],
  ['plain.dead', {}],
  ['q.quorum', { 'x-queue-type': 'quorum', 'x-delivery-limit': 5 }],
];
/** The durable mirrored ones: quorum queues on the target. */
const MIRRORED = SOURCE_QUEUES.filter(([name, , durable]) => /^[mh]\./.test(name) && durable !== false);

/** The source scenario: 10 queues, 4 exchanges, 3 policies, 7 bindings (one to a transient queue). */
async function sourceTopology(vhost: string): Promise<void> {
  const m = admin();
  const v = enc(vhost);
  await m.ok('PUT', `/policies/${v}/ha-limit`, { pattern: '^m\\.', definition: { 'ha-mode': 'all', 'max-length': 1000 }, 'apply-to': 'queues', priority: 1 });
  await m.ok('PUT', `/policies/${v}/ha-only`, {
    pattern: '^h\\.',
    definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
    'apply-to': 'queues',
    priority: 1,
  });
  await m.ok('PUT', `/policies/${v}/ttl`, { pattern: '^plain\\.', definition: { 'message-ttl': 60000 }, 'apply-to': 'queues', priority: 0 });
  for (const [name, type] of [
    ['orders', 'topic'],
    ['hdr', 'headers'],
    ['dlx', 'fanout'],
    ['ingress', 'topic'],
  ]) {
    await m.declareExchange(vhost, name, { type, durable: true, auto_delete: false, internal: false, arguments: {} });
  }
  for (const [name, args, durable] of SOURCE_QUEUES) await m.declareQueue(vhost, name, { durable: durable ?? true, arguments: args });
  await m.bindQueue(vhost, 'orders', 'm.prio', 'orders.prio', {});
  await m.bindQueue(vhost, 'orders', 'm.dlx', 'orders.#', {});
  await m.bindQueue(vhost, 'orders', 'h.transient', 'orders.tmp', {});
  await m.bindQueue(vhost, 'hdr', 'h.one', '', { 'x-match': 'all', region: 'eu', tier: 'gold' });
  await m.bindQueue(vhost, 'hdr', 'h.two', '', { 'x-match': 'any', a: '1', b: '2' });
  await m.bindQueue(vhost, 'dlx', 'plain.dead', '', {});
  await m.ok('POST', `/bindings/${v}/e/ingress/e/orders`, { routing_key: 'orders.#', arguments: {} });
}

test('bluegreen plan then definitions: mirrored queues become quorum on the target, the target equals the plan', async (t) => {
  const vhost = await testVhost(t, { suffix: '/bg&defs' });
  cleanupTargetVhost(t, vhost);
  await sourceTopology(vhost);
  const { call, audit } = await serve(t);
  const path = encodeURIComponent(vhost);

  const planned = await call(`/bluegreen/plan/${path}`, targetBody());
  assert.equal(planned.status, 200, JSON.stringify(planned.body));
  assertSchema('bluegreen-plan-response', planned.body);
  const plan = planned.body;
  assert.equal(plan.vhost, vhost);
  assert.equal(plan.target_vhost_exists, false);
  assert.equal(await targetAdmin().vhost(vhost), null, 'the plan wrote nothing on the target');
  // 9 queues (h.transient is not transferable), 4 exchanges, 2 policies (ha-only left empty), 6 bindings.
  assert.deepEqual(plan.counts.total, { create: 21, same: 0, conflict: 0 });
  assert.deepEqual(plan.counts.queues, { create: 9, same: 0, conflict: 0 });
  assert.deepEqual(plan.counts.bindings, { create: 6, same: 0, conflict: 0 });
  for (const kind of ['policies', 'exchanges', 'queues', 'bindings'])
    assert.ok(
      plan.diff[kind].every((e: { action: string }) => e.action === 'create'),
      kind,
    );

  const q = (name: string) => plan.definitions.queues.find((x: { name: string }) => x.name === name);
  for (const [name, classic] of MIRRORED) {
    assert.deepEqual(q(name).arguments, translateArguments(classic).arguments, name);
    assert.equal(q(name).arguments['x-queue-type'], 'quorum', name);
  }
  assert.deepEqual(q('plain.classic').arguments, { 'x-max-length': 100, 'x-queue-type': 'classic' });
  assert.deepEqual(q('q.quorum').arguments, { 'x-delivery-limit': 5, 'x-queue-type': 'quorum' });
  assert.equal(q('h.transient'), undefined);
  assert.deepEqual(plan.queue_conversions.map((c: { name: string; dropped_arguments: string[] }) => `${c.name}:${c.dropped_arguments.join(',')}`).sort(), [
    'h.one:',
    'h.two:',
    'm.dlx:',
    'm.lazy:x-queue-mode',
    'm.plain:',
    'm.prio:x-max-priority',
  ]);
  assert.deepEqual(
    plan.not_transferable.map((n: { kind: string; name: string }) => `${n.kind}:${n.name}`),
    ['queues:h.transient', 'bindings:orders -> queue h.transient [orders.tmp]'],
  );
  const policies = new Map(plan.definitions.policies.map((p: { name: string; definition: unknown }) => [p.name, p.definition]));
  assert.deepEqual([...policies.keys()].sort(), ['ha-limit', 'ttl']);
  assert.deepEqual(policies.get('ha-limit'), { 'max-length': 1000 });
  assert.deepEqual(plan.policy_changes, [
    { name: 'ha-limit', stripped_keys: ['ha-mode'], dropped: false },
    { name: 'ha-only', stripped_keys: ['ha-mode', 'ha-params', 'ha-sync-mode'], dropped: true },
  ]);
  assert.deepEqual(plan.policy_shifts, [], 'no queue falls to another policy on the target');
  assert.ok(plan.definitions.bindings.some((b: any) => b.destination_type === 'exchange' && b.source === 'ingress' && b.destination === 'orders'));

  // A reason is required for the apply.
  const noReason = await call(`/bluegreen/definitions/${path}`, targetBody());
  assert.equal(noReason.status, 400);
  assert.equal(noReason.body.reason, 'reason is required');
  assert.equal(await targetAdmin().vhost(vhost), null);

  const applied = await call(`/bluegreen/definitions/${path}`, { ...targetBody(), reason: 'blue-green drill' });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  assertSchema('bluegreen-definitions-response', applied.body);
  assert.equal(applied.body.vhost_created, true);
  assert.deepEqual(applied.body.counts, { created: 21, same: 0 });
  assert.deepEqual(applied.body.created.queues.sort(), plan.definitions.queues.map((x: { name: string }) => x.name).sort());

  const onTarget = await readVhostDefinitions(targetAdmin(), vhost);
  assert.deepEqual(onTarget, normalDefinitions(plan.definitions), 'the target vhost holds exactly the planned definitions');
  // The broker shows a queue's policy once its next statistics arrive: wait for them.
  const live = await eventually(
    async () => {
      const found = await targetAdmin().queue(vhost, 'm.prio');
      return found?.policy ? found : null;
    },
    60_000,
    "m.prio's policy on the target",
  );
  assert.equal(live.type, 'quorum');
  assert.equal(live.policy, 'ha-limit');
  assert.deepEqual(live.effective_policy_definition, { 'max-length': 1000 }, 'the stripped policy applies on the target');

  const line = audit().find((a) => a.action === 'bluegreen_definitions_applied');
  assert.ok(line, 'an audit line for the apply');
  assert.equal(line.vhost, vhost);
  assert.equal(line.who, cluster.user);
  assert.equal(line.details.reason, 'blue-green drill');
  assert.equal(line.details.target, targetCluster.managementUrl);
  assert.ok(!/password/i.test(JSON.stringify(line.details)), 'no password in the audit line');

  // Planned again: everything is there the same; applied again: nothing is created.
  const again = await call(`/bluegreen/plan/${path}`, targetBody());
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.counts.total, { create: 0, same: 21, conflict: 0 });
  const reapplied = await call(`/bluegreen/definitions/${path}`, { ...targetBody(), reason: 'again' });
  assert.equal(reapplied.status, 200);
  assert.equal(reapplied.body.vhost_created, false);
  assert.deepEqual(reapplied.body.counts, { created: 0, same: 21 });
});

test('bluegreen definitions: a conflicting object on the target is reported and nothing is written (409)', async (t) => {
  const vhost = await testVhost(t, { suffix: '-bg-conflict' });
  cleanupTargetVhost(t, vhost);
  await sourceTopology(vhost);
  // On the target: the vhost with m.prio as a classic queue (the plan wants it quorum) and one equal exchange.
  const target = targetAdmin();
  await target.putVhost(vhost);
  await target.setPermission(vhost, targetCluster.user, { configure: '.*', write: '.*', read: '.*' });
  await target.declareQueue(vhost, 'm.prio', { durable: true, arguments: { 'x-queue-type': 'classic' } });
  await target.declareExchange(vhost, 'orders', { type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} });
  const before = await readVhostDefinitions(target, vhost);
  const { call, audit } = await serve(t);
  const path = encodeURIComponent(vhost);

  const planned = await call(`/bluegreen/plan/${path}`, targetBody());
  assert.equal(planned.status, 200, JSON.stringify(planned.body));
  assert.equal(planned.body.target_vhost_exists, true);
  assert.deepEqual(planned.body.counts.total, { create: 19, same: 1, conflict: 1 });
  const conflict = planned.body.diff.queues.find((e: { name: string }) => e.name === 'm.prio');
  assert.equal(conflict.action, 'conflict');
  assert.match(conflict.difference, /x-queue-type/);
  assert.equal(planned.body.diff.exchanges.find((e: { name: string }) => e.name === 'orders').action, 'same');

  const refused = await call(`/bluegreen/definitions/${path}`, { ...targetBody(), reason: 'must not apply' });
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assertSchema('error-response', refused.body);
  assert.equal(refused.body.error, 'definitions_conflict');
  assert.deepEqual(
    refused.body.details.conflicts.map((c: { kind: string; name: string }) => `${c.kind}:${c.name}`),
    ['queues:m.prio'],
  );
  assert.match(refused.body.reason, /nothing was written/);
  assert.deepEqual(await readVhostDefinitions(target, vhost), before, 'the target is unchanged');
  assert.equal(
    audit().some((a) => a.action === 'bluegreen_definitions_applied'),
    false,
  );
});

test('bluegreen plan and definitions refuse a management-tagged user as the xfer routes do (403); 401, 404, 400 answers', async (t) => {
  const vhost = await testVhost(t, { suffix: '-bg-auth' });
  cleanupTargetVhost(t, vhost);
  await admin().declareQueue(vhost, 'q', { durable: true });
  const manager = await testUser(t, ['management'], [vhost]);
  const { call } = await serve(t);
  const path = encodeURIComponent(vhost);

  const xfer = await call('/xfer', { ...targetBody(), reason: 'r', vhost, everything: true }, manager);
  assert.equal(xfer.status, 403);
  for (const route of ['plan', 'definitions']) {
    const res = await call(`/bluegreen/${route}/${path}`, { ...targetBody(), reason: 'r' }, manager);
    assert.equal(res.status, 403, route);
    assertSchema('error-response', res.body);
    assert.deepEqual(res.body, xfer.body, `${route}: the error the xfer routes give`);
  }
  const noAuth = await call(`/bluegreen/plan/${path}`, targetBody(), null);
  assert.equal(noAuth.status, 401);
  // An administrator: an unknown vhost is 404, a body the schema refuses 400 naming the field.
  const unknown = await call(`/bluegreen/plan/no-such-vhost-bg`, targetBody());
  assert.equal(unknown.status, 404);
  assertSchema('error-response', unknown.body);
  const badBody = await call(`/bluegreen/definitions/${path}`, { ...targetBody(), reason: 'r', everything: true });
  assert.equal(badBody.status, 400);
  assert.equal(badBody.body.reason, "unknown field 'everything'");
  const badTarget = await call(`/bluegreen/plan/${path}`, { ...targetBody(), target_password: 'Tgt-Pw-wrong' });
  assert.equal(badTarget.status, 400);
  assert.match(badTarget.body.reason, /target rejected the credentials/);
  assert.equal(await targetAdmin().vhost(vhost), null, 'nothing was written on the target');
});

test('qmig bluegreen plan / definitions against a real sidecar', async (t) => {
  const vhost = await testVhost(t, { suffix: '-bg-cli' });
  cleanupTargetVhost(t, vhost);
  const m = admin();
  await m.ok('PUT', `/policies/${enc(vhost)}/ha`, { pattern: '.*', definition: { 'ha-mode': 'all' }, 'apply-to': 'queues', priority: 0 });
  await m.declareQueue(vhost, 'c1', { durable: true, arguments: { 'x-max-priority': 3 } });
  await m.declareExchange(vhost, 'ex', { type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} });
  await m.bindQueue(vhost, 'ex', 'c1', 'k', {});
  const caller = await testUser(t, ['administrator'], [vhost]);
  const sidecar = await startTestSidecar(t);
  const env = { QMIG_URL: sidecar.url, QMIG_CLI_USER: caller.user, QMIG_CLI_PASSWORD: caller.password, QMIG_TARGET_PASSWORD: targetCluster.password };
  const runs: CliResult[] = [];
  const qmig = async (args: string[]) => {
    const r = await runCli(args, env);
    runs.push(r);
    return r;
  };
  const common = ['--vhost', vhost, '--target', targetCluster.managementUrl, '--target-user', targetCluster.user];

  assertExit(await qmig(['bluegreen']), 2, 'no subcommand');
  const planned = await qmig(['bluegreen', 'plan', ...common]);
  assertExit(planned, 0, 'plan');
  assert.match(planned.stdout, /^ {2}queues: {4}create 1, same 0, conflict 0$/m);
  assert.match(planned.stdout, /^ {2}to quorum: c1 \(policy ha; drops x-max-priority\)$/m);
  assert.match(planned.stdout, /^ {2}policy ha: dropped \(only mirroring keys\)$/m);
  assert.equal(await targetAdmin().vhost(vhost), null, 'plan wrote nothing');

  assertExit(await qmig(['bluegreen', 'definitions', ...common]), 2, 'definitions without --reason');
  const applied = await qmig(['bluegreen', 'definitions', ...common, '--reason', 'cli blue-green', '--json']);
  assertExit(applied, 0, 'definitions');
  const body = JSON.parse(applied.stdout);
  assertSchema('bluegreen-definitions-response', body);
  assert.deepEqual(body.created, { policies: [], exchanges: ['ex'], queues: ['c1'], bindings: ['ex -> queue c1 [k]'] });
  assert.equal((await targetAdmin().queue(vhost, 'c1'))?.type, 'quorum');

  const again = await qmig(['bluegreen', 'plan', ...common, '--json']);
  assertExit(again, 0);
  assertSchema('bluegreen-plan-response', JSON.parse(again.stdout));
  assert.deepEqual(JSON.parse(again.stdout).counts.total, { create: 0, same: 3, conflict: 0 });

  // A conflict: the plan exits 1 and names it; the apply is refused with exit 1.
  await targetAdmin().declareExchange(vhost, 'other', { type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} });
  await m.declareExchange(vhost, 'other', { type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} });
  const conflicted = await qmig(['bluegreen', 'plan', ...common]);
  assertExit(conflicted, 1, 'plan with a conflict');
  assert.match(conflicted.stdout, /^ {2}CONFLICT exchange other: type: target "fanout", plan "topic"$/m);
  const refused = await qmig(['bluegreen', 'definitions', ...common, '--reason', 'must refuse']);
  assertExit(refused, 1, 'definitions with a conflict');
  assert.match(refused.stderr, /definitions_conflict|conflict/);
  assertNoSecrets(runs, [caller.password]);
});
