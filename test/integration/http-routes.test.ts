/**
 * Every route of /api/queue-migration/* through a real sidecar against the real test cluster:
 * check (URL-encoded vhosts, all, unknown), start (wiring and defaults, 404, real engine),
 * status list/detail, interrupt, rollback-pending, POST status/:id, 404/405, request ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { enc } from '../../src/broker/management-client.js';
import { schemaNames } from '../../src/http/schema-registry.js';
import type { Caller, MigrationEngine } from '../../src/migration/contract.js';
import type { MigrationOptions, MigrationRecord } from '../../src/state/records.js';
import { admin, cluster } from '../support/cluster.js';
import { liveMigration, migrationRecord, queueRecords, storeMigration } from '../support/migration-records.js';
import { timestamp } from '../../src/state/records.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar } from '../support/sidecar.js';
import { testVhost } from '../support/vhost.js';

const P = '/api/queue-migration';

async function json(res: Response): Promise<any> {
  const text = await res.text();
  assert.match(res.headers.get('content-type') ?? '', /application\/json/, `not JSON (${res.status}): ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function expectError(res: Response, status: number): Promise<any> {
  const body = await json(res);
  assert.equal(res.status, status, JSON.stringify(body));
  assertSchema('error-response', body);
  return body;
}

function assertCheckReport(body: any, vhost: string): void {
  if (schemaNames().includes('check-response')) assertSchema('check-response', body);
  assert.equal(body.vhost, vhost);
  assert.equal(typeof body.overall_ready, 'boolean');
  assert.ok(Array.isArray(body.system_checks.checks));
}

/** A vhost with exactly this name, deleted after the test. */
async function namedVhost(t: { after(fn: () => unknown): void }, name: string): Promise<string> {
  const mgmt = admin();
  t.after(() => mgmt.deleteIfExists(`/vhosts/${enc(name)}`).catch(() => undefined));
  await mgmt.ok('PUT', `/vhosts/${enc(name)}`, {});
  await mgmt.setPermission(name, cluster.user, { configure: '.*', write: '.*', read: '.*' });
  return name;
}

/** An engine that records what the HTTP layer hands it. */
class RecordingEngine implements MigrationEngine {
  starts: Array<{ vhost: string; options: MigrationOptions; caller: Caller }> = [];
  interrupts: string[] = [];
  async start(vhost: string, options: MigrationOptions, caller: Caller) {
    this.starts.push({ vhost, options, caller });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  manyStarts: Array<{ vhosts: string[] | { all: string[] }; options: MigrationOptions }> = [];
  async startMany(vhosts: string[] | { all: string[] }, options: MigrationOptions) {
    this.manyStarts.push({ vhosts, options });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  async interrupt(id: string) {
    this.interrupts.push(id);
  }
  async markRollbackCompleted(record: MigrationRecord): Promise<MigrationRecord> {
    return record;
  }
  async startRepair(): Promise<{ migration_id: string }> {
    throw new Error('not used by these tests');
  }
  async startRollback(): Promise<{ migration_id: string }> {
    throw new Error('not used by these tests');
  }
  async resumeOrphans() {}
  async shutdown() {}
}

test('check answers for URL-encoded vhosts: /test&foo, #, 日本語, and the default vhost', async (t) => {
  const s = await startTestSidecar(t);
  const tag = randomBytes(3).toString('hex');
  const names = [
    await namedVhost(t, `/qmig-test-${tag}/test&foo`),
    await namedVhost(t, `qmig-test-${tag}-#hash`),
    await namedVhost(t, `/qmig-test-${tag}/日本語&queue`),
    await testVhost(t, { suffix: '-über' }),
  ];
  for (const vhost of names) {
    const res = await s.api(`${P}/check/${encodeURIComponent(vhost)}`, { method: 'POST' });
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assertCheckReport(body, vhost);
  }
  // the spec's literal example encoding
  const jp = names[2];
  assert.ok(encodeURIComponent(jp).includes('%E6%97%A5%E6%9C%AC%E8%AA%9E'));
  const res = await s.api(`${P}/check/%2F`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ skip_unsuitable_queues: true, vhost: 'ignored' }),
  });
  const body = await json(res);
  assert.equal(res.status, 200);
  assertCheckReport(body, '/');
  assert.equal(body.skip_unsuitable_queues, true);
});

test('check/all covers every vhost; unknown vhost → 404; malformed percent-encoding → 400', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const res = await s.api(`${P}/check/all`, { method: 'POST' });
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body).slice(0, 500));
  if (schemaNames().includes('check-all-response')) assertSchema('check-all-response', body);
  assert.equal(body.vhost, 'all');
  assert.ok(
    body.vhosts.some((r: any) => r.vhost === vhost),
    'the test vhost is in check/all',
  );

  const missing = await expectError(
    await s.api(`${P}/check/${encodeURIComponent('/no-such-vhost-' + randomBytes(4).toString('hex'))}`, { method: 'POST' }),
    404,
  );
  assert.equal(missing.error, 'Object Not Found');
  assert.match(missing.reason, /no-such-vhost/);
  const bad = await expectError(await s.api(`${P}/check/%E0%A4%A`, { method: 'POST' }), 400);
  assert.equal(bad.error, 'bad_request');
  assert.match(bad.reason, /percent-encoding/);
});

test('start hands the engine the path vhost, the caller and the options with spec defaults', async (t) => {
  const engine = new RecordingEngine();
  const s = await startTestSidecar(t, { engine: () => engine });
  const vhost = await namedVhost(t, `/qmig-test-${randomBytes(3).toString('hex')}/test&foo`);

  let res = await s.api(`${P}/start`, { method: 'POST' });
  let body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('start-response', body);
  assert.deepEqual(body, { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw', status: 'started' });
  assert.equal(engine.starts[0].vhost, '/');
  assert.deepEqual(engine.starts[0].caller.user, 'guest');
  assert.ok(engine.starts[0].caller.tags.includes('administrator'));
  assert.deepEqual(engine.starts[0].options, {
    skip_unsuitable_queues: false,
    tolerance: null,
    batch_size: 'all',
    batch_order: 'smallest_first',
    queue_names: null,
    allow_message_ttl: false,
    set_default_queue_type: null,
  });

  res = await s.api(`${P}/start/${encodeURIComponent(vhost)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      vhost: '/ignored',
      skip_unsuitable_queues: true,
      tolerance: 10.5,
      batch_size: 0,
      batch_order: 'largest_first',
      queue_names: ['a', 'a', 'b'],
      allow_message_ttl: true,
      set_default_queue_type: 'quorum',
    }),
  });
  body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('start-response', body);
  assert.equal(engine.starts[1].vhost, vhost);
  assert.deepEqual(engine.starts[1].options, {
    skip_unsuitable_queues: true,
    tolerance: 10.5,
    batch_size: 'all',
    batch_order: 'largest_first',
    queue_names: ['a', 'a', 'b'],
    allow_message_ttl: true,
    set_default_queue_type: 'quorum',
  });

  await expectError(await s.api(`${P}/start/${encodeURIComponent('/no-such-vhost-' + randomBytes(4).toString('hex'))}`, { method: 'POST' }), 404);
  assert.equal(engine.starts.length, 2, 'nothing reaches the engine for an unknown vhost');
});

test('start with the real engine answers JSON (started, or a JSON refusal while the engine is incomplete)', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const res = await s.api(`${P}/start/${encodeURIComponent(vhost)}`, { method: 'POST' });
  const body = await json(res);
  if (res.status === 200) assertSchema('start-response', body);
  else {
    assert.ok([400, 409, 501].includes(res.status), `unexpected ${res.status}: ${JSON.stringify(body)}`);
    assertSchema('error-response', body);
  }
});

test('status lists migrations newest first and status/:id answers a migration with its queues', async (t) => {
  const s = await startTestSidecar(t, { engine: () => new RecordingEngine() });
  const vhost = await testVhost(t);
  const dayAgo = timestamp(new Date(Date.now() - 86_400_000));
  const older = migrationRecord(vhost, s.ctx.nodeName, {
    status: 'completed',
    started_at: dayAgo,
    completed_at: dayAgo,
    completed_queues: 3,
    skipped_queues: 0,
  });
  const stopped = migrationRecord(vhost, s.ctx.nodeName, {
    status: 'interrupted',
    started_at: timestamp(new Date(Date.now() - 60_000)),
    total_queues: 450,
    completed_queues: 224,
    skipped_queues: 1,
  });
  await storeMigration(t, s.ctx, older, queueRecords(vhost, 3));
  await storeMigration(t, s.ctx, stopped, queueRecords(vhost, 450)); // three chunks
  const running = liveMigration(
    t,
    s.ctx,
    migrationRecord(vhost, s.ctx.nodeName, { status: 'in_progress', total_queues: 4, completed_queues: 1, skipped_queues: 0 }),
    queueRecords(vhost, 4),
  );

  let res = await s.api(`${P}/status`);
  let body = await json(res);
  assert.equal(res.status, 200);
  assertSchema('status-list-response', body);
  assert.equal(body.status, 'in_progress', 'a migration runs (in this sidecar)');
  const ids = body.migrations.map((m: any) => m.id);
  assert.ok(ids.indexOf(running.id) >= 0, 'the live migration is listed');
  assert.ok(ids.indexOf(stopped.id) > ids.indexOf(running.id) && ids.indexOf(older.id) > ids.indexOf(stopped.id), 'newest first');
  const listed = body.migrations.find((m: any) => m.id === stopped.id);
  assert.equal(listed.vhost, vhost);
  assert.equal(listed.status, 'interrupted');
  assert.equal(listed.progress_percentage, 50);
  assert.equal(listed.display_id, `${vhost} (${stopped.started_at}) on ${s.ctx.nodeName}`);
  for (const k of ['options', 'owner', 'engine', 'queue_chunks']) assert.equal(k in listed, false, `${k} is internal`);
  assert.equal(body.migrations.find((m: any) => m.id === running.id).progress_percentage, 25);

  res = await s.api(`${P}/status/${stopped.id}`);
  body = await json(res);
  assert.equal(res.status, 200);
  assertSchema('status-detail-response', body);
  assert.equal(body.migration.id, stopped.id);
  assert.deepEqual(body.migration.snapshots, stopped.snapshots);
  assert.equal(body.queues.length, 450);
  assert.deepEqual(body.queues[0].resource, { name: 'q-00000', vhost });
  assert.equal(body.queues[0].status, 'skipped');
  assert.equal(body.queues[0].error, 'queue has a message TTL');
  assert.equal(body.queues[2].progress_percentage, Math.floor((50 / 102) * 100));
  assert.equal(body.queues[449].resource.name, 'q-00449');

  // the running migration answers from memory, with its latest progress
  running.completed_queues = 2;
  s.ctx.live.get(running.id)!.queues[2].migrated_messages = 100;
  await new Promise((r) => setTimeout(r, 600)); // past the live view's reuse window
  res = await s.api(`${P}/status/${running.id}`);
  body = await json(res);
  assertSchema('status-detail-response', body);
  assert.equal(body.migration.status, 'in_progress');
  assert.equal(body.migration.completed_queues, 2);
  assert.equal(body.queues[2].migrated_messages, 100);

  // the migration id URL-encoded (it is base64url: encoding changes nothing, but %-escapes must work)
  res = await s.api(`${P}/status/${[...stopped.id].map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});

test('status/:id: undecodable and unknown ids → 404 with the spec body', async (t) => {
  const s = await startTestSidecar(t);
  for (const id of ['not-an-id', 'g2gCbQAAAA5yYWJiaXRAcm1xMGIAAAPoAAAAAAA=', migrationRecord('/', 'x@y').id]) {
    const body = await expectError(await s.api(`${P}/status/${encodeURIComponent(id)}`), 404);
    assert.deepEqual(body, { error: 'Object Not Found', reason: 'Not Found' });
  }
});

test('interrupt: 409 for a migration that is not running, 404 for unknown, 200 through the engine when running', async (t) => {
  const engine = new RecordingEngine();
  const s = await startTestSidecar(t, { engine: () => engine });
  const vhost = await testVhost(t);
  const done = await storeMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'completed' }), queueRecords(vhost, 2));
  const running = liveMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'in_progress' }), queueRecords(vhost, 2));

  const conflict = await expectError(await s.api(`${P}/interrupt/${done.id}`, { method: 'POST' }), 409);
  assert.equal(conflict.status, 'completed');
  assert.match(conflict.reason, /not running/);

  assert.deepEqual(await expectError(await s.api(`${P}/interrupt/nope`, { method: 'POST' }), 404), { error: 'Object Not Found', reason: 'Not Found' });
  await expectError(await s.api(`${P}/interrupt/${migrationRecord('/', 'x@y').id}`, { method: 'POST' }), 404);

  const res = await s.api(`${P}/interrupt/${running.id}`, { method: 'POST' });
  const body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('interrupt-response', body);
  assert.deepEqual(body, { interrupted: true, migration_id: running.id });
  assert.deepEqual(engine.interrupts, [running.id]);
});

test('interrupt with the real engine: a running migration is interrupted or answered with a JSON reason', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const done = await storeMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'failed', error: 'boom' }), []);
  const conflict = await expectError(await s.api(`${P}/interrupt/${done.id}`, { method: 'POST' }), 409);
  assert.equal(conflict.status, 'failed');
});

test('rollback-pending and POST status/:id: mark a rollback done only from rollback_pending', async (t) => {
  const s = await startTestSidecar(t);
  const vhost = await testVhost(t);
  const pending = await storeMigration(
    t,
    s.ctx,
    migrationRecord(vhost, s.ctx.nodeName, {
      status: 'rollback_pending',
      error: 'queue q-1 failed verification',
      failed_queues: 1,
      completed_queues: 2,
      skipped_queues: 0,
    }),
    queueRecords(vhost, 3),
  );
  const completed = await storeMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'completed' }), []);

  let res = await s.api(`${P}/rollback-pending`);
  let body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('rollback-pending-response', body);
  assert.equal(body.status, 'rollback_pending');
  // Other suites may hold rollback_pending records too: ours is returned unless a newer one exists.
  assert.ok(body.id === pending.id || body.started_at >= pending.started_at, 'the newest rollback_pending migration');
  if (body.id === pending.id) assert.deepEqual(body.snapshots, pending.snapshots);

  // wrong bodies
  const json400 = async (payload: string) =>
    expectError(await s.api(`${P}/status/${pending.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload }), 400);
  assert.match((await json400('{"status":"completed"}')).reason, /^status must be "rollback_completed"/);
  assert.match((await json400('{}')).reason, /status is required/);
  assert.match((await json400('{"status":"rollback_completed","extra":1}')).reason, /unknown field 'extra'/);

  // from another status → 409 with the current status
  const conflict = await expectError(
    await s.api(`${P}/status/${completed.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"rollback_completed"}' }),
    409,
  );
  assert.equal(conflict.status, 'completed');
  await expectError(
    await s.api(`${P}/status/garbage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"rollback_completed"}' }),
    404,
  );

  res = await s.api(`${P}/status/${pending.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"rollback_completed"}' });
  body = await json(res);
  assert.equal(res.status, 200, JSON.stringify(body));
  assertSchema('status-update-response', body);
  assert.equal(body.id, pending.id);
  assert.equal(body.status, 'rollback_completed');
  assert.deepEqual(body.snapshots, pending.snapshots);
  const stored = await s.ctx.store.loadRecord(pending.id);
  assert.equal(stored?.status, 'rollback_completed', 'persisted in the broker');

  const again = await expectError(
    await s.api(`${P}/status/${pending.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"status":"rollback_completed"}' }),
    409,
  );
  assert.equal(again.status, 'rollback_completed');

  // the detail shows the new status right away (the read cache was invalidated)
  body = await json(await s.api(`${P}/status/${pending.id}`));
  assertSchema('status-detail-response', body);
  assert.equal(body.migration.status, 'rollback_completed');

  // ours is no longer the rollback-pending answer: 404 unless another suite holds one
  res = await s.api(`${P}/rollback-pending`);
  body = await json(res);
  if (res.status === 404) assert.deepEqual(body, { error: 'No rollback pending migration found' });
  else {
    assert.equal(res.status, 200);
    assertSchema('rollback-pending-response', body);
    assert.notEqual(body.id, pending.id);
  }
  if (res.status === 404) assertSchema('error-response', body);
});

test('rollback-pending → 404 with the spec body when there is none', async (t) => {
  const s = await startTestSidecar(t);
  const others = (await s.ctx.store.listRecords()).filter((r) => r.status === 'rollback_pending');
  t.diagnostic(`rollback_pending records of other suites: ${others.length}`);
  const res = await s.api(`${P}/rollback-pending`);
  const body = await json(res);
  if (others.length === 0) {
    assert.equal(res.status, 404);
    assert.deepEqual(body, { error: 'No rollback pending migration found' });
    assertSchema('error-response', body);
  } else {
    assert.equal(res.status, 200);
    assertSchema('rollback-pending-response', body);
  }
});

test('unknown path → 404 JSON; wrong method → 405 with Allow; request ids are honoured and emitted', async (t) => {
  const s = await startTestSidecar(t);
  let body = await expectError(await s.api(`${P}/nope`), 404);
  assert.match(body.reason, /nope/);
  await expectError(await s.api(`${P}`), 404);

  for (const [method, path, allow] of [
    ['DELETE', '/status', 'GET, HEAD'],
    ['PUT', '/status/abc', 'GET, HEAD, POST'],
    ['GET', '/start', 'POST'],
    ['GET', '/check/%2F', 'POST'],
    ['GET', '/interrupt/abc', 'POST'],
    ['POST', '/rollback-pending', 'GET, HEAD'],
  ] as const) {
    const res = await s.api(P + path, { method });
    body = await expectError(res, 405);
    assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
    assert.equal(body.error, 'method_not_allowed');
  }

  let res = await s.api(`${P}/status`, { headers: { 'x-request-id': 'op-check-123' } });
  assert.equal(res.headers.get('x-request-id'), 'op-check-123');
  await res.arrayBuffer();
  res = await s.api(`${P}/status`, { headers: { 'x-request-id': 'bad id with spaces\u00e9' } });
  assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'an unusable id is replaced');
  await res.arrayBuffer();
});

test('the transfer and peer snapshot routes are mounted behind the same authentication', async (t) => {
  const s = await startTestSidecar(t);
  let res = await s.api(`${P}/xfer`, { auth: null });
  assert.equal(res.status, 401);
  await res.arrayBuffer();
  res = await s.api(`${P}/xfer`);
  const list = await json(res);
  assert.equal(res.status, 200, JSON.stringify(list));
  assertSchema('xfer-list', list);
  res = await s.api(`${P}/xfer`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  await res.arrayBuffer();
  res = await s.api(`${P}/snapshots/in-progress`, { auth: null });
  assert.equal(res.status, 401);
  await res.arrayBuffer();
  res = await s.api(`${P}/snapshots/in-progress`);
  const activity = await json(res);
  assert.ok(res.status < 500, JSON.stringify(activity));
  assertSchema(res.status === 200 ? 'snapshot-in-progress-response' : 'error-response', activity);
});

test('an unexpected error is a 500 naming the request id, never a stack trace', async (t) => {
  const broken: MigrationEngine = {
    async start() {
      throw new TypeError("Cannot read properties of undefined (reading 'secret')");
    },
    async startMany() {
      throw new TypeError("Cannot read properties of undefined (reading 'secret')");
    },
    async interrupt() {},
    async startRollback() {
      throw new TypeError('not used');
    },
    async startRepair() {
      throw new TypeError('not used');
    },
    async markRollbackCompleted(record) {
      return record;
    },
    async resumeOrphans() {},
    async shutdown() {},
  };
  const s = await startTestSidecar(t, { engine: () => broken });
  const res = await s.api(`${P}/start`, { method: 'POST', headers: { 'x-request-id': 'req-500-test' } });
  const body = await expectError(res, 500);
  assert.deepEqual(body, { error: 'internal_error', reason: 'Internal error; request id req-500-test' });
  assert.equal(res.headers.get('x-request-id'), 'req-500-test');
});
