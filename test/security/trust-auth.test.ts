/**
 * Exact authorization, on the real cluster, as non-administrator users created per test:
 * - the policymaker matrix: start and POST status/{id} pass only with configure, write and read
 *   each `.*` on the vhost; read-only or partial regexes, no permission, or a vhost that does not
 *   exist → 403; interrupt of a foreign migration → 403;
 * - no existence oracle: 403 with the same error for an unknown and for a forbidden vhost;
 * - reading needs access: a monitoring user sees only records and transfers of its vhosts;
 * - `.`, `..` and empty segments → 400 before authentication (so before any broker call);
 * - a changed password or removed tag stops working within the (short) cache period.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { newMigrationId } from '../../src/state/migration-id.js';
import { TransferStore } from '../../src/transfer/transfer-store.js';
import type { TransferRecord } from '../../src/transfer/transfer-record.js';
import { enc } from '../../src/broker/management-client.js';
import { admin } from '../support/cluster.js';
import { liveMigration, migrationRecord, storeMigration } from '../support/migration-records.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { testSeal } from '../support/state-secret.js';
import { testVhost } from '../support/vhost.js';
import { FULL, tenant, type Perms, type Tenant } from './trust-support.js';

const P = '/api/queue-migration';
const as = (u: Tenant, init: RequestInit = {}) => ({ ...init, auth: { user: u.user, password: u.password } });
const json = { 'content-type': 'application/json' };

async function answer(res: Response): Promise<{ status: number; body: any }> {
  const body = await res.json();
  if (res.status >= 400) assertSchema('error-response', body);
  return { status: res.status, body };
}

async function sidecar(t: { after(fn: () => unknown): void }, env: Record<string, string> = {}): Promise<TestSidecar> {
  const stateVhost = await testVhost(t);
  return startTestSidecar(t, { env: { QMIG_STATE_VHOST: stateVhost, QMIG_RELAXED_CHECKS_WARN_ONLY: 'true', ...env } });
}

test('policymaker matrix: only configure, write and read each ".*" may start or mark rollback; anything else, or an unknown vhost, is 403', async (t) => {
  const s = await sidecar(t);
  const matrix: Array<[string, Perms | null, boolean]> = [
    ['full', FULL, true],
    ['read-only (^$ / ^$ / .*), as in the review', { configure: '^$', write: '^$', read: '.*' }, false],
    ['no configure', { configure: '', write: '.*', read: '.*' }, false],
    ['configure limited to a prefix', { configure: '^app\\.', write: '.*', read: '.*' }, false],
    ['read limited', { configure: '.*', write: '.*', read: '^amq\\.' }, false],
    ['anchored but equivalent', { configure: '^.*$', write: '.*', read: '.*' }, false],
    ['no permission at all', null, false],
  ];
  for (const [label, perms, allowed] of matrix) {
    const vhost = await testVhost(t);
    const pm = await tenant(t, ['policymaker'], perms ? { [vhost]: perms } : {});
    const pending = await storeMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'rollback_pending' }), []);
    const running = liveMigration(t, s.ctx, migrationRecord(vhost, s.ctx.nodeName, { status: 'in_progress' }), []);

    const start = await answer(await s.api(`${P}/start/${enc(vhost)}`, as(pm, { method: 'POST' })));
    const mark = await answer(await s.api(`${P}/status/${pending.id}`, as(pm, { method: 'POST', headers: json, body: '{"status":"rollback_completed"}' })));
    const interrupt = await answer(await s.api(`${P}/interrupt/${running.id}`, as(pm, { method: 'POST' })));
    if (allowed) {
      // Authorized: start is judged on its merits (an empty vhost has nothing to migrate), marking works.
      assert.equal(start.status, 400, `${label}: ${JSON.stringify(start.body)}`);
      assert.equal(mark.status, 200, `${label}: ${JSON.stringify(mark.body)}`);
      assert.notEqual(interrupt.status, 403, label);
    } else {
      for (const [what, r] of [
        ['start', start],
        ['mark rollback', mark],
        ['interrupt', interrupt],
      ] as const) {
        assert.equal(r.status, 403, `${label}: ${what} → ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'forbidden');
      }
      assert.equal((await s.ctx.store.loadRecord(pending.id))?.status, 'rollback_pending', `${label}: the record is unchanged`);
    }
  }
});

test('no existence oracle: an unknown and a forbidden vhost both answer 403 to non-administrators; administrators get 404', async (t) => {
  const s = await sidecar(t);
  const mine = await testVhost(t);
  const foreign = await testVhost(t);
  const missing = `qmig-test-missing-${Date.now()}`;
  const pm = await tenant(t, ['policymaker'], { [mine]: FULL });
  const mon = await tenant(t, ['monitoring'], { [mine]: FULL });
  const reasons: string[] = [];
  for (const vhost of [foreign, missing]) {
    const start = await answer(await s.api(`${P}/start/${enc(vhost)}`, as(pm, { method: 'POST' })));
    const check = await answer(await s.api(`${P}/check/${enc(vhost)}`, as(mon, { method: 'POST' })));
    assert.equal(start.status, 403, JSON.stringify(start.body));
    assert.equal(check.status, 403, JSON.stringify(check.body));
    reasons.push(`${start.body.reason.replace(vhost, 'V')}|${check.body.reason.replace(vhost, 'V')}`);
  }
  assert.equal(reasons[0], reasons[1], 'the answers differ only by the vhost name');
  const adminCheck = await s.api(`${P}/check/${enc(missing)}`, { method: 'POST' });
  assert.equal(adminCheck.status, 404);
  await adminCheck.arrayBuffer();
  const own = await s.api(`${P}/check/${enc(mine)}`, as(mon, { method: 'POST' }));
  assert.equal(own.status, 200);
  await own.arrayBuffer();
});

test('reading needs access: a monitoring user sees only the migrations and transfers of its vhosts', async (t) => {
  const s = await sidecar(t);
  const mine = await testVhost(t);
  const foreign = await testVhost(t);
  const mon = await tenant(t, ['monitoring'], { [mine]: { configure: '', write: '', read: '.*' } });
  const a = await storeMigration(t, s.ctx, migrationRecord(mine, s.ctx.nodeName, { status: 'completed' }), []);
  const b = await storeMigration(t, s.ctx, migrationRecord(foreign, s.ctx.nodeName, { status: 'rollback_pending' }), []);
  const list = await answer(await s.api(`${P}/status`, as(mon)));
  assert.equal(list.status, 200);
  const ids = list.body.migrations.map((m: { id: string }) => m.id);
  assert.ok(ids.includes(a.id) && !ids.includes(b.id), JSON.stringify(ids));
  assert.equal((await answer(await s.api(`${P}/status/${b.id}`, as(mon)))).status, 404, 'a foreign record answers like an unknown one');
  assert.equal((await answer(await s.api(`${P}/status/${a.id}`, as(mon)))).status, 200);
  assert.equal((await answer(await s.api(`${P}/rollback-pending`, as(mon)))).status, 404, "another vhost's rollback is not shown");
  const adminList = await answer(await s.api(`${P}/status`));
  assert.ok(
    adminList.body.migrations.some((m: { id: string }) => m.id === b.id),
    'administrators see every record',
  );

  const transfers = new TransferStore(admin(), testSeal());
  const xfer = (vhost: string) => ({ id: newMigrationId(s.ctx.nodeName), vhost, status: 'completed', queues: [] }) as unknown as TransferRecord;
  const [x1, x2] = [xfer(mine), xfer(foreign)];
  t.after(async () => {
    for (const x of [x1, x2]) await transfers.delete(x.id).catch(() => undefined);
  });
  await transfers.save(x1);
  await transfers.save(x2);
  const xl = await answer(await s.api(`${P}/xfer`, as(mon)));
  const xids = xl.body.transfers.map((x: { id: string }) => x.id);
  assert.ok(xids.includes(x1.id) && !xids.includes(x2.id), JSON.stringify(xids));
  assert.equal((await answer(await s.api(`${P}/xfer/${x2.id}`, as(mon)))).status, 404);
  const pm = await tenant(t, ['policymaker'], { [foreign]: FULL });
  assert.equal((await answer(await s.api(`${P}/xfer/${x2.id}/cancel`, as(pm, { method: 'POST' })))).status, 403, 'cancel is for administrators');
});

/** A request whose path is sent exactly as written (fetch would normalise dot segments). */
function rawPost(url: string, path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('".", ".." and empty segments are refused with 400 before authentication, hence before any broker call', async (t) => {
  const s = await sidecar(t);
  for (const path of ['check/.', 'check/..', 'check/%2E', 'check/%2e%2E', 'start/%2E', 'start/..', 'status//x', 'check/', 'interrupt/%2E%2E']) {
    const r = await rawPost(s.url, `${P}/${path}`);
    assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
    assertSchema('error-response', r.body);
    assert.equal(r.body.error, 'bad_request');
  }
});

test('a changed password or a removed tag stops working within the cache period (≤ 60 s; here 1 s)', async (t) => {
  const s = await sidecar(t, { QMIG_AUTH_CACHE_SECONDS: '1' });
  const vhost = await testVhost(t);
  const mon = await tenant(t, ['monitoring'], { [vhost]: FULL });
  assert.equal((await answer(await s.api(`${P}/status`, as(mon)))).status, 200);
  await admin().ok('PUT', `/users/${enc(mon.user)}`, { password: 'changed-password', tags: 'monitoring' });
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await answer(await s.api(`${P}/status`, as(mon)))).status, 401, 'the old password is refused once the cache entry expired');
  const changed = { ...mon, password: 'changed-password' };
  assert.equal((await answer(await s.api(`${P}/status`, as(changed)))).status, 200);
  await admin().ok('PUT', `/users/${enc(mon.user)}`, { password: 'changed-password', tags: 'management' });
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await answer(await s.api(`${P}/status`, as(changed)))).status, 403, 'a removed tag is seen after the cache period');
});
