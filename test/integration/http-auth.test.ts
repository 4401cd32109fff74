/**
 * Authentication and authorization of /api/queue-migration/* against real broker users:
 * each tag, policymaker vhost permissions, 401 without a browser challenge, the failed-login rate limit,
 * and 503 when the broker cannot be asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Caller, MigrationEngine } from '../../src/migration/contract.js';
import type { RollbackRequest } from '../../src/migration/rollback-plan.js';
import type { RepairRequest } from '../../src/migration/repair-plan.js';
import type { MigrationOptions, MigrationRecord } from '../../src/state/records.js';
import { admin } from '../support/cluster.js';
import { liveMigration, migrationRecord } from '../support/migration-records.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, startTestSidecar } from '../support/sidecar.js';
import { testUser, testVhost } from '../support/vhost.js';

const P = '/api/queue-migration';

async function status(res: Response, schema = 'error-response'): Promise<{ status: number; body: any }> {
  const body = await res.json();
  if (res.status >= 400) assertSchema('error-response', body);
  else assertSchema(schema, body);
  return { status: res.status, body };
}

class AcceptingEngine implements MigrationEngine {
  starts: Array<{ vhost: string; caller: Caller }> = [];
  async start(vhost: string, _options: MigrationOptions, caller: Caller) {
    this.starts.push({ vhost, caller });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  manyStarts: Array<{ vhosts: string[] | { all: string[] }; caller: Caller }> = [];
  async startMany(vhosts: string[] | { all: string[] }, _options: MigrationOptions, caller: Caller) {
    this.manyStarts.push({ vhosts, caller });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDB8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  async interrupt() {}
  async markRollbackCompleted(record: MigrationRecord) {
    return record;
  }
  rollbacks: Array<{ id: string; caller: Caller }> = [];
  async startRepair(record: MigrationRecord, _request: RepairRequest, caller: Caller) {
    this.rollbacks.push({ id: record.id, caller });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDJ8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  async startRollback(record: MigrationRecord, _request: RollbackRequest, caller: Caller) {
    this.rollbacks.push({ id: record.id, caller });
    return { migration_id: 'cWlnfDE3MDAwMDAwMDAwMDF8bnwwMDAwMDAwMDAwMDAwMDAw' };
  }
  async resumeOrphans() {}
  async shutdown() {}
}

test('no credentials or a bad password → 401 with a JSON body and no WWW-Authenticate challenge (browsers would cache the credentials)', async (t) => {
  const s = await startTestSidecar(t);
  for (const init of [{ auth: null }, { auth: { user: 'guest', password: 'wrong' } }, { auth: null, headers: { authorization: 'Bearer abc' } }]) {
    const res = await s.api(`${P}/status`, init);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), null);
    const body = await res.json();
    assertSchema('error-response', body);
    assert.equal(body.error, 'not_authorized');
  }
});

test('tags: none → 401 (the broker refuses), management → 403, monitoring reads but cannot change, administrator does all', async (t) => {
  const engine = new AcceptingEngine();
  const s = await startTestSidecar(t, { engine: () => engine });
  const vhost = await testVhost(t);
  const running = liveMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'in_progress' }), []);
  const none = await testUser(t, [], [vhost]);
  const management = await testUser(t, ['management'], [vhost]);
  const monitoring = await testUser(t, ['monitoring'], [vhost]);
  const administrator = await testUser(t, ['administrator'], [vhost]);
  const as = (u: { user: string; password: string }) => ({ auth: u });
  const post = (u: { user: string; password: string }) => ({ auth: u, method: 'POST' });

  let r = await status(await s.api(`${P}/status`, as(none)));
  assert.equal(r.status, 401);

  r = await status(await s.api(`${P}/status`, as(management)));
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'forbidden');
  assert.match(r.body.reason, /monitoring or administrator/);
  assert.equal((await status(await s.api(`${P}/check/${encodeURIComponent(vhost)}`, post(management)))).status, 403);
  assert.equal((await status(await s.api(`${P}/start/${encodeURIComponent(vhost)}`, post(management)))).status, 403);

  assert.equal((await status(await s.api(`${P}/status`, as(monitoring)), 'status-list-response')).status, 200);
  assert.equal((await status(await s.api(`${P}/status/${running.id}`, as(monitoring)), 'status-detail-response')).status, 200);
  const check = await s.api(`${P}/check/${encodeURIComponent(vhost)}`, post(monitoring));
  assert.equal(check.status, 200);
  await check.arrayBuffer();
  r = await status(await s.api(`${P}/start/${encodeURIComponent(vhost)}`, post(monitoring)));
  assert.equal(r.status, 403);
  assert.equal((await status(await s.api(`${P}/interrupt/${running.id}`, post(monitoring)))).status, 403);
  assert.equal(
    (
      await status(
        await s.api(`${P}/status/${running.id}`, {
          ...post(monitoring),
          headers: { 'content-type': 'application/json' },
          body: '{"status":"rollback_completed"}',
        }),
      )
    ).status,
    403,
  );
  assert.equal(engine.starts.length, 0);

  assert.equal((await status(await s.api(`${P}/status`, as(administrator)), 'status-list-response')).status, 200);
  assert.equal((await status(await s.api(`${P}/start/${encodeURIComponent(vhost)}`, post(administrator)), 'start-response')).status, 200);
  assert.equal((await status(await s.api(`${P}/interrupt/${running.id}`, post(administrator)), 'interrupt-response')).status, 200);
  assert.deepEqual(
    engine.starts.map((x) => [x.vhost, x.caller.user]),
    [[vhost, administrator.user]],
  );
});

test('policymaker may start and interrupt on a vhost it has full permission on, not on another', async (t) => {
  const engine = new AcceptingEngine();
  const s = await startTestSidecar(t, { engine: () => engine });
  const mine = await testVhost(t);
  const other = await testVhost(t);
  const readOnly = await testVhost(t);
  const pm = await testUser(t, ['policymaker'], [mine]);
  await admin().setPermission(readOnly, pm.user, { configure: '', write: '.*', read: '.*' });
  const onMine = liveMigration(t, s.ctx, migrationRecord(mine, s.ctx.nodeName, { status: 'in_progress' }), []);
  const onOther = liveMigration(t, s.ctx, migrationRecord(other, s.ctx.nodeName, { status: 'in_progress' }), []);
  const post = { auth: pm, method: 'POST' };

  assert.equal((await status(await s.api(`${P}/start/${encodeURIComponent(mine)}`, post), 'start-response')).status, 200);
  const r = await status(await s.api(`${P}/start/${encodeURIComponent(other)}`, post));
  assert.equal(r.status, 403);
  assert.match(r.body.reason, new RegExp(`vhost '${other}'`));
  assert.equal((await status(await s.api(`${P}/start/${encodeURIComponent(readOnly)}`, post))).status, 403, 'an empty configure permission counts as none');
  assert.equal((await status(await s.api(`${P}/start`, post))).status, 403, 'no permission on /');

  assert.equal((await status(await s.api(`${P}/interrupt/${onMine.id}`, post), 'interrupt-response')).status, 200);
  assert.equal((await status(await s.api(`${P}/interrupt/${onOther.id}`, post))).status, 403);
  // read routes need monitoring or administrator
  assert.equal((await status(await s.api(`${P}/status`, { auth: pm }))).status, 403);
  assert.deepEqual(
    engine.starts.map((x) => x.vhost),
    [mine],
  );
});

test('more than QMIG_AUTH_FAILURE_LIMIT failed logins for a user name → 429 with Retry-After for that name; others at the address and verified callers go on', async (t) => {
  const s = await startTestSidecar(t, { env: { QMIG_AUTH_FAILURE_LIMIT: '3' } });
  const good = await s.api(`${P}/status`);
  assert.equal(good.status, 200);
  await good.arrayBuffer();
  const monitoring = await testUser(t, ['monitoring']);
  for (let i = 0; i < 3; i++) {
    const res = await s.api(`${P}/status`, { auth: { user: 'guest', password: `wrong-${i}` } });
    assert.equal(res.status, 401, `attempt ${i + 1}`);
    await res.arrayBuffer();
  }
  const res = await s.api(`${P}/status`, { auth: { user: 'guest', password: 'wrong-again' } });
  assert.equal(res.status, 429);
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
  const body = await res.json();
  assertSchema('error-response', body);
  assert.equal(body.error, 'too_many_requests');
  const other = await s.api(`${P}/status`, { auth: monitoring });
  assert.equal(other.status, 200, 'another user behind the same address is not locked out');
  await other.arrayBuffer();
  const cached = await s.api(`${P}/status`);
  assert.equal(cached.status, 200, 'a caller verified before is still served');
  await cached.arrayBuffer();
});

test('the broker cannot be asked → 503 JSON, not 401', async (t) => {
  const s = await startTestSidecar(t, { env: { QMIG_MANAGEMENT_URL: 'http://127.0.0.1:1' }, brokerWaitMs: 0 });
  const res = await s.api(`${P}/status`, { headers: { authorization: basicAuth('guest', 'guest') } });
  assert.equal(res.status, 503);
  const body = await res.json();
  assertSchema('error-response', body);
  assert.equal(body.error, 'broker_unavailable');
  assert.match(body.reason, /unreachable/);
});
