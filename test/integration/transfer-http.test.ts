/**
 * /api/queue-migration/xfer over HTTP, through `transferRouter` mounted the way the sidecar mounts
 * it (request context, the real Authenticator, an administrator gate, the error mapper), against
 * the real source and target clusters: 202 then progress to completed, list, idempotent cancel,
 * 400/401/403/404/405 answers as JSON, the target password never in an answer. Then through real
 * sidecars, with the target given as the target cluster's own qmig sidecar (which proxies /api/*).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express, { type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import { ForbiddenError } from '../../src/errors.js';
import { Authenticator } from '../../src/http/auth.js';
import { errorMapper } from '../../src/http/error-mapper.js';
import { callerOf, locals, requestContext } from '../../src/http/request-context.js';
import { transferRouter } from '../../src/http/routes/transfers.js';
import { TransferService } from '../../src/transfer/transfer-service.js';
import { admin, cluster } from '../support/cluster.js';
import { publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
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
} from './transfer-support.js';

const P = '/api/queue-migration';

function basic(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

test('POST/GET /xfer, GET /xfer/:id, POST /xfer/:id/cancel through the router', async (t) => {
  const vhost = await testVhost(t, { suffix: '/http&x' });
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  const { ctx, audit } = sourceContext(t);
  await admin().declareQueue(vhost, 'h1', { durable: true });
  await publish(vhost, { queue: 'h1' }, 25);
  // A monitoring user sees the records of vhosts it has a permission on (README "Authorization"), changes nothing.
  const monitor = await testUser(t, ['monitoring'], [vhost]);

  const service = new TransferService(ctx, { pollMs: 200 });
  const auth = new Authenticator(ctx);
  const authenticate: RequestHandler = async (req, res, next) => {
    locals(res).caller = await auth.authenticate(req);
    next();
  };
  const requireAdministrator: RequestHandler = (_req, res, next) => {
    const caller = callerOf(res);
    if (!caller.tags.includes('administrator')) throw new ForbiddenError(`user '${caller.user}' needs the administrator tag`);
    next();
  };
  const app = express();
  app.use(requestContext);
  app.use(P, authenticate, transferRouter(ctx, requireAdministrator, { service }));
  app.use(errorMapper);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.after(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    who: { user: string; password: string } | null = { user: cluster.user, password: cluster.password },
  ) => {
    const headers: Record<string, string> = {};
    if (who) headers.authorization = basic(who.user, who.password);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /application\/json/, `${method} ${path} → ${res.status} not JSON: ${text.slice(0, 200)}`);
    assert.ok(!text.includes('Tgt-Pw-Never-Echoed'), 'the target password is never in an answer');
    return { status: res.status, body: JSON.parse(text) };
  };
  const request = {
    target: targetCluster.managementUrl,
    target_user: targetCluster.user,
    target_password: targetCluster.password,
    reason: 'http drill',
    vhost,
    queue_names: ['h1'],
  };

  // Refusals, as JSON.
  const noAuth = await call('POST', `${P}/xfer`, request, null);
  assert.equal(noAuth.status, 401);
  const notAdmin = await call('POST', `${P}/xfer`, request, monitor);
  assert.equal(notAdmin.status, 403);
  assertSchema('error-response', notAdmin.body);
  const { queue_names: _q, ...noSelection } = request;
  const none = await call('POST', `${P}/xfer`, noSelection);
  assert.equal(none.status, 400);
  assertSchema('error-response', none.body);
  assert.match(none.body.reason, /"everything": true/);
  const badJson = await call('POST', `${P}/xfer`, '{"target":');
  assert.equal(badJson.status, 400);
  const wrongPassword = await call('POST', `${P}/xfer`, { ...request, target_password: 'Tgt-Pw-Never-Echoed' });
  assert.equal(wrongPassword.status, 400, JSON.stringify(wrongPassword.body) + JSON.stringify(await service.list()));
  assert.match(wrongPassword.body.reason, /target rejected the credentials/);
  const sameCluster = await call('POST', `${P}/xfer`, { ...request, target: cluster.managementUrls[0] });
  assert.equal(sameCluster.status, 400);
  assert.match(sameCluster.body.reason, /same cluster/);
  const unknownVhost = await call('POST', `${P}/xfer`, { ...request, vhost: 'no-such-vhost-here' });
  assert.equal(unknownVhost.status, 404);
  assertSchema('error-response', unknownVhost.body);

  // 202 at once, then the record shows progress to completion.
  const started = await call('POST', `${P}/xfer`, request);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assertSchema('xfer-accepted', started.body);
  const id = started.body.transfer_id as string;
  const done = await eventually(
    async () => {
      const r = await call('GET', `${P}/xfer/${encodeURIComponent(id)}`, undefined, monitor);
      assert.equal(r.status, 200);
      return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : null;
    },
    60_000,
    'the transfer to finish',
  );
  assertSchema('xfer-record', done);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.equal(done.queues[0].moved_messages, 25);
  assert.equal(done.who, 'guest');
  assert.equal(done.reason, 'http drill');
  assert.equal(await countAt(targetAmqpUrl(vhost), 'h1'), 25);

  const list = await call('GET', `${P}/xfer`, undefined, monitor);
  assert.equal(list.status, 200);
  assertSchema('xfer-list', list.body);
  assert.equal(list.body.transfers.find((r: any) => r.id === id)?.status, 'completed');
  assert.ok(
    list.body.transfers.every((r: any) => r.queues === undefined),
    'the list has no per-queue details',
  );

  // Cancel is idempotent on a finished transfer; monitoring may not cancel.
  const cancel = await call('POST', `${P}/xfer/${encodeURIComponent(id)}/cancel`);
  assert.equal(cancel.status, 200);
  assertSchema('xfer-cancel-response', cancel.body);
  assert.deepEqual(cancel.body, { transfer_id: id, status: 'completed', cancel_requested: false });
  assert.equal((await call('POST', `${P}/xfer/${encodeURIComponent(id)}/cancel`, undefined, monitor)).status, 403);

  // Unknown ids and methods.
  const unknown = await call('GET', `${P}/xfer/cW1pZ3wxNzAwMDAwMDAwMDAwfG58MDAwMDAwMDAwMDAwMDAwMA`);
  assert.equal(unknown.status, 404);
  assertSchema('error-response', unknown.body);
  assert.equal((await call('POST', `${P}/xfer/garbage/cancel`)).status, 404);
  const wrongMethod = await call('DELETE', `${P}/xfer/${encodeURIComponent(id)}`);
  assert.equal(wrongMethod.status, 405);

  const entry = audit().find((a) => a.action === 'xfer_queue' && a.migration_id === id);
  assert.equal(entry?.details.reason, 'http drill');
  assert.equal(entry?.who, 'guest');
});

test("through real sidecars: the target given as the URL of the target cluster's qmig sidecar", async (t) => {
  const vhost = await testVhost(t);
  cleanupTargetVhost(t, vhost);
  cleanupTransferRecords(t, vhost);
  await admin().declareQueue(vhost, 'via-sidecar', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await publish(vhost, { queue: 'via-sidecar' }, 40);
  const source = await startTestSidecar(t, { housekeeping: false });
  const targetAmqp = new URL(targetCluster.amqpUrl);
  const targetSidecar = await startTestSidecar(t, {
    housekeeping: false,
    env: { QMIG_MANAGEMENT_URL: targetCluster.managementUrl, QMIG_AMQP_URL: `amqp://${targetAmqp.host}` },
  });
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await source.api(path, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return { status: res.status, body: (await res.json()) as any };
  };

  const started = await api(`${P}/xfer`, {
    method: 'POST',
    body: JSON.stringify({
      target: targetSidecar.url,
      target_user: targetCluster.user,
      target_password: targetCluster.password,
      reason: 'via sidecar',
      vhost,
      queue_names: ['via-sidecar'],
    }),
  });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assertSchema('xfer-accepted', started.body);
  const id = started.body.transfer_id as string;
  const done = await eventually(
    async () => {
      const r = await api(`${P}/xfer/${id}`);
      return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : null;
    },
    60_000,
    'the transfer to finish',
  );
  assertSchema('xfer-record', done);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.equal(done.target, targetSidecar.url);
  assert.equal(done.target_cluster_name, (await targetAdmin().overview()).cluster_name);
  assert.equal(await countAt(targetAmqpUrl(vhost), 'via-sidecar'), 40);
  assert.equal((await targetAdmin().queue(vhost, 'via-sidecar'))?.type, 'quorum');
  const list = await api(`${P}/xfer`);
  assertSchema('xfer-list', list.body);
  assert.ok(list.body.transfers.some((r: any) => r.id === id));

  // The source's own sidecar is the same cluster.
  const same = await api(`${P}/xfer`, {
    method: 'POST',
    body: JSON.stringify({ target: source.url, target_user: cluster.user, target_password: cluster.password, reason: 'loop', vhost, everything: true }),
  });
  assert.equal(same.status, 400);
  assert.match(same.body.reason, /same cluster/);
});
