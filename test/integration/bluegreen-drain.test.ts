/**
 * Blue-green drains against the real source cluster and the independent target cluster:
 * 1. start on a vhost of 3 mirrored queues with messages, one with a publisher running during the
 *    drain → the detail validates, the source backlog goes to 0, the target holds every message
 *    (content fingerprints equal), links running; cut-over completes only after idle_seconds,
 *    shovels gone, temporary user gone, source queues kept — and removed with remove_source_queues;
 * 2. cancel mid-drain with a publisher running: shovels and user gone, every published message on
 *    one side or the other, duplicates at most src-prefetch-count per queue;
 * 3. a sidecar SIGKILLed mid-drain: another resumes it (takes the lock), the cut-over completes,
 *    nothing lost;
 * 4. trust: forged record and requests ignored, the target password not readable, management-tagged
 *    users refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import amqp from 'amqplib';
import { enc, ManagementClient } from '../../src/broker/management-client.js';
import { DRAIN_SHOVEL_PREFIX } from '../../src/broker/names.js';
import { DrainStore } from '../../src/bluegreen/drain-store.js';
import { admin, amqpUrl, cluster } from '../support/cluster.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint, fingerprintOf, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { basicAuth, spawnSidecar, startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { testSeal } from '../support/state-secret.js';
import { mirrorPolicy, testUser, testVhost } from '../support/vhost.js';
import { cleanupTargetVhost, eventually, fingerprintAt, sourceAmqpUrl, targetAdmin, targetAmqpUrl, targetCluster, targetUser } from './transfer-support.js';

type After = { after(fn: () => unknown): void };
const P = '/api/queue-migration';
const QUEUES = ['orders', 'invoices', 'events'];

const targetBody = (extra: Record<string, unknown> = {}) => ({
  target: targetCluster.managementUrl,
  target_user: targetCluster.user,
  target_password: targetCluster.password,
  reason: 'blue-green drill',
  ...extra,
});

async function json(res: Response): Promise<{ status: number; body: any }> {
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function post(s: { api: TestSidecar['api'] }, path: string, body: unknown) {
  return s.api(P + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(json);
}

const get = (s: { api: TestSidecar['api'] }, path: string) => s.api(P + path).then(json);

/** A vhost of 3 mirrored queues with `perQueue` messages each (distinct bodies per queue). */
async function drainVhost(t: After, perQueue: number): Promise<string> {
  const vhost = await testVhost(t as never, { suffix: '/bg&drain' });
  cleanupTargetVhost(t, vhost);
  await mirrorPolicy(vhost);
  for (const q of QUEUES) {
    await admin().declareQueue(vhost, q, { durable: true });
    await publish(
      vhost,
      { queue: q },
      Array.from({ length: perQueue }, (_, i) => ({
        body: `${q}-${i}`,
        properties: { persistent: true, messageId: `${q}-${i}`, headers: { n: i }, priority: 1 },
      })),
    );
  }
  return vhost;
}

/** Publishes `${queue}-live-<n>` with confirms until stopped; answers how many were confirmed. */
function publisher(vhost: string, queue: string) {
  let stop = false;
  let confirmed = 0;
  const done = (async () => {
    const conn = await amqp.connect(amqpUrl(vhost, 1));
    try {
      const ch = await conn.createConfirmChannel();
      for (let i = 0; !stop; i++) {
        ch.publish('', queue, Buffer.from(`${queue}-live-${i}`), { persistent: true, messageId: `${queue}-live-${i}` });
        await ch.waitForConfirms();
        confirmed = i + 1;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
    return confirmed;
  })();
  return {
    stop: async () => {
      stop = true;
      return done;
    },
    get confirmed() {
      return confirmed;
    },
  };
}

/** The fingerprints of `publisher`'s first `n` messages (as test/support/messages.ts computes them). */
function liveFingerprints(queue: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    fingerprintOf({ content: Buffer.from(`${queue}-live-${i}`), properties: { messageId: `${queue}-live-${i}`, deliveryMode: 2, headers: {} } as never }),
  );
}

async function drainShovels(vhost: string): Promise<string[]> {
  const params = await admin().shovelParameters(vhost);
  return params.map((p) => p.name).filter((n) => n.startsWith(DRAIN_SHOVEL_PREFIX));
}

async function targetUserExists(name: string): Promise<boolean> {
  return (await targetAdmin().getOrNull(`/users/${enc(name)}`)) !== null;
}

/** Deletes the drain records of `vhost` after the test (and stops what they left). */
function cleanupDrains(t: After, vhost: string): void {
  t.after(async () => {
    const store = new DrainStore(admin(), testSeal());
    for (const r of await store.list().catch(() => [])) {
      if (r.vhost !== vhost) continue;
      for (const q of r.queues)
        await admin()
          .deleteShovel(r.vhost, q.shovel)
          .catch(() => undefined);
      await targetAdmin()
        .deleteIfExists(`/users/${enc(r.target_shovel_user)}`)
        .catch(() => undefined);
      await store.delete(r.id).catch(() => undefined);
    }
  });
}

async function waitStatus(s: { api: TestSidecar['api'] }, id: string, pred: (d: any) => boolean, what: string, timeoutMs = 90_000): Promise<any> {
  return eventually(
    async () => {
      const d = await get(s, `/bluegreen/status/${id}`);
      assert.equal(d.status, 200, JSON.stringify(d.body));
      return pred(d.body) ? d.body : null;
    },
    timeoutMs,
    what,
  );
}

for (const removeSource of [false, true]) {
  test(`drain: start, backlog moved with content intact, cut-over after idle_seconds${removeSource ? ', source queues removed' : ', source queues kept'}`, async (t) => {
    const vhost = await drainVhost(t, 300);
    cleanupDrains(t, vhost);
    const before = new Map<string, string[]>();
    for (const q of QUEUES) before.set(q, await fingerprint(vhost, q));
    const sidecar = await startTestSidecar(t);
    const pub = publisher(vhost, 'events');
    t.after(() => pub.stop().catch(() => undefined));

    const started = await post(sidecar, `/bluegreen/start/${encodeURIComponent(vhost)}`, targetBody({ idle_seconds: 2, remove_source_queues: removeSource }));
    assert.equal(started.status, 202, JSON.stringify(started.body));
    assertSchema('bluegreen-start-response', started.body);
    const id = started.body.drain_id;

    const again = await post(sidecar, `/bluegreen/start/${encodeURIComponent(vhost)}`, targetBody());
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'bluegreen_in_progress');

    // The backlog of the idle queues moves; the links run while the publisher keeps publishing.
    const draining = await waitStatus(
      sidecar,
      id,
      (d) =>
        d.queues.filter((q: any) => q.name !== 'events').every((q: any) => q.source.messages === 0 && q.target.messages === 300 && q.state === 'idle') &&
        d.queues.every((q: any) => q.link.state === 'running') &&
        d.queues.some((q: any) => q.name === 'events' && q.source.publishing && q.state === 'draining' && q.source.idle_since === null),
      'backlog moved, links running, the published queue seen publishing',
    );
    assertSchema('bluegreen-status-response', draining);
    assert.equal(draining.status, 'draining');
    const events = draining.queues.find((q: any) => q.name === 'events');
    assert.equal(events.source.consumers, 0, "the link's own consumer is not counted");
    const list = await get(sidecar, '/bluegreen/status');
    assertSchema('bluegreen-list-response', list.body);
    assert.ok(list.body.some((s: any) => s.drain_id === id && s.vhost === vhost && s.queues === 3));

    const published = await pub.stop();
    const stoppedAt = Date.now();
    const cut = await post(sidecar, `/bluegreen/cutover/${id}`, {});
    assert.equal(cut.status, 202, JSON.stringify(cut.body));
    assertSchema('bluegreen-cutover-response', cut.body);
    const cutAgain = await post(sidecar, `/bluegreen/cutover/${id}`, {});
    assert.equal(cutAgain.status, 409);
    assert.equal(cutAgain.body.error, 'invalid_state');

    const ended = await waitStatus(sidecar, id, (d) => d.status !== 'draining' && d.status !== 'cutting_over', 'the cut-over completes');
    assertSchema('bluegreen-status-response', ended);
    assert.equal(ended.status, 'completed', JSON.stringify(ended));
    assert.ok(ended.queues.every((q: any) => q.state === 'done' && q.link.state === 'absent'));
    // Completed only after 'events' stayed idle idle_seconds (2 s) once its publisher stopped
    // (ended_at has whole seconds: one second of truncation allowed).
    assert.ok(
      Date.parse(ended.ended_at.replace(' ', 'T') + 'Z') + 1000 - stoppedAt >= 2000,
      `ended ${ended.ended_at}, publisher stopped ${new Date(stoppedAt).toISOString()}`,
    );
    assert.deepEqual(await drainShovels(vhost), [], 'no drain shovel left');
    assert.equal(await targetUserExists(ended.target_shovel_user), false, 'the temporary user is gone');

    for (const q of QUEUES) {
      const onTarget = await fingerprintAt(targetAmqpUrl(vhost), q);
      const expected = [...before.get(q)!, ...(q === 'events' ? liveFingerprints(q, published) : [])].sort();
      assert.ok(q !== 'events' || published > 0, 'the publisher published during the drain');
      assert.deepEqual(onTarget, expected, `${q}: the target holds exactly the source's messages (and every confirmed live one)`);
    }
    const sourceQueues = (await admin().queues(vhost, ['name'])).map((q) => q.name).sort();
    assert.deepEqual(sourceQueues, removeSource ? [] : [...QUEUES].sort());
    if (!removeSource) assert.ok(ended.queues.every((q: any) => q.source.removed === false && q.source.messages === 0));
    else assert.ok(ended.queues.every((q: any) => q.source.removed === true));
  });
}

/** Every message of `queue` on both clusters, by message id: how many copies each has. */
async function copiesOf(vhost: string, queue: string): Promise<Map<string, number>> {
  const ids = async (url: string) => {
    const conn = await amqp.connect(url);
    const out: string[] = [];
    try {
      const ch = await conn.createChannel();
      for (;;) {
        const msg = await ch.get(queue, { noAck: false });
        if (!msg) break;
        out.push(String(msg.properties.messageId));
      }
    } finally {
      await conn.close().catch(() => undefined);
    }
    return out;
  };
  const copies = new Map<string, number>();
  for (const id of [...(await ids(sourceAmqpUrl(vhost))), ...(await ids(targetAmqpUrl(vhost)))]) copies.set(id, (copies.get(id) ?? 0) + 1);
  return copies;
}

test('drain: cancel mid-drain with a publisher running leaves every message on one side or the other, duplicates within src-prefetch-count', async (t) => {
  const PREFETCH = 50;
  const vhost = await drainVhost(t, 5000);
  cleanupDrains(t, vhost);
  const sidecar = await startTestSidecar(t, { env: { QMIG_TRANSFER_PREFETCH: String(PREFETCH) } });
  const pub = publisher(vhost, 'events');
  t.after(() => pub.stop().catch(() => undefined));
  await eventually(async () => pub.confirmed > 0, 30_000, 'the publisher publishes');

  const started = await post(sidecar, `/bluegreen/start/${encodeURIComponent(vhost)}`, targetBody({ idle_seconds: 2 }));
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const id = started.body.drain_id;
  // Mid-drain: some messages have reached the target, the publisher still runs.
  await waitStatus(sidecar, id, (d) => d.totals.target_messages > 0, 'messages reach the target');
  const cancelled = await post(sidecar, `/bluegreen/cancel/${id}`, {});
  assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
  assertSchema('bluegreen-cancel-response', cancelled.body);
  assert.equal(cancelled.body.status, 'cancelled');
  const published = await pub.stop();

  assert.deepEqual(await drainShovels(vhost), [], 'no drain shovel left');
  const detail = await get(sidecar, `/bluegreen/status/${id}`);
  assertSchema('bluegreen-status-response', detail.body);
  assert.equal(detail.body.status, 'cancelled');
  assert.ok(detail.body.cancel_requested_at);
  assert.ok(detail.body.queues.every((q: any) => q.state === 'cancelled' && q.link.state === 'absent'));
  assert.equal(await targetUserExists(detail.body.target_shovel_user), false, 'the temporary user is gone');
  const again = await post(sidecar, `/bluegreen/cancel/${id}`, {});
  assert.equal(again.status, 409);
  assert.equal(again.body.error, 'invalid_state');

  for (const q of QUEUES) {
    const copies = await copiesOf(vhost, q);
    const expected = [
      ...Array.from({ length: 5000 }, (_, i) => `${q}-${i}`),
      ...(q === 'events' ? Array.from({ length: published }, (_, i) => `${q}-live-${i}`) : []),
    ];
    const missing = expected.filter((m) => !copies.has(m));
    assert.deepEqual(missing.slice(0, 5), [], `${q}: every published message is on the source or the target (${missing.length} missing)`);
    assert.equal(copies.size, expected.length, `${q}: nothing else appeared`);
    const duplicates = [...copies.values()].reduce((n, c) => n + (c - 1), 0);
    assert.ok(duplicates <= PREFETCH, `${q}: ${duplicates} duplicate(s), at most src-prefetch-count ${PREFETCH}`);
  }
});

test('drain: a sidecar SIGKILLed mid-drain; another resumes it, the cut-over completes, nothing lost', async (t) => {
  const vhost = await drainVhost(t, 200);
  cleanupDrains(t, vhost);
  const dir = mkdtempSync(join(tmpdir(), 'qmig-drain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { QMIG_AUDIT_LOG: join(dir, 'audit.log') };
  const auth = { authorization: basicAuth(cluster.user, cluster.password), 'content-type': 'application/json' };
  const first = await spawnSidecar(t, { env });
  const start = await fetch(`${first.url}${P}/bluegreen/start/${encodeURIComponent(vhost)}`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify(targetBody({ idle_seconds: 2 })),
  }).then(json);
  assert.equal(start.status, 202, JSON.stringify(start.body));
  const id = start.body.drain_id;
  const viaFirst = { api: (path: string, init: RequestInit = {}) => fetch(first.url + path, { ...init, headers: auth }) };
  await waitStatus(viaFirst, id, (d) => d.totals.source_messages === 0 && d.queues.every((q: any) => q.link.state === 'running'), 'the backlog moved');
  await first.kill('SIGKILL');

  // The links run inside the source broker: messages published now still move.
  for (const q of QUEUES)
    await publish(
      vhost,
      { queue: q },
      Array.from({ length: 50 }, (_, i) => ({ body: `${q}-after-${i}`, properties: { messageId: `${q}-after-${i}` } })),
    );
  const second = await spawnSidecar(t, { env });
  const viaSecond = { api: (path: string, init: RequestInit = {}) => fetch(second.url + path, { ...init, headers: auth }) };
  const resumed = await eventually(
    async () => {
      const lines = readFileSync(env.QMIG_AUDIT_LOG, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      return lines.find((l) => l.action === 'bluegreen_drain_resumed' && l.details.drain_id === id);
    },
    60_000,
    'the second sidecar resumes the drain',
  );
  assert.equal(resumed.details.renewed_password, false, 'the temporary user kept its password (taken from a running shovel)');
  const cut = await fetch(`${second.url}${P}/bluegreen/cutover/${id}`, { method: 'POST', headers: auth, body: '{}' }).then(json);
  assert.equal(cut.status, 202, JSON.stringify(cut.body));
  const ended = await waitStatus(viaSecond, id, (d) => d.status !== 'draining' && d.status !== 'cutting_over', 'the cut-over completes');
  assert.equal(ended.status, 'completed', JSON.stringify(ended));
  assertSchema('bluegreen-status-response', ended);
  assert.deepEqual(await drainShovels(vhost), []);
  assert.equal(await targetUserExists(ended.target_shovel_user), false);
  for (const q of QUEUES) {
    const copies = await copiesOf(vhost, q);
    const expected = [...Array.from({ length: 200 }, (_, i) => `${q}-${i}`), ...Array.from({ length: 50 }, (_, i) => `${q}-after-${i}`)];
    assert.deepEqual(
      expected.filter((m) => copies.get(m) !== 1),
      [],
      `${q}: every message exactly once`,
    );
    assert.equal(
      await admin()
        .queue(vhost, q)
        .then((x) => x?.name),
      q,
      'source queue kept',
    );
  }
});

test('drain trust: forged record and requests are ignored, the target password is never readable, management users are refused', async (t) => {
  const vhost = await drainVhost(t, 10);
  cleanupDrains(t, vhost);
  const password = `Tgt-Pw:${Date.now()}/x@y%z`;
  const targetAdm = await targetUser(t, ['administrator'], password);
  const sidecar = await startTestSidecar(t);
  const policymaker = await testUser(t, ['policymaker'], [vhost]);
  const manager = await testUser(t, ['management'], [vhost]);
  const pm = new ManagementClient({ baseUrl: cluster.managementUrls[0], user: policymaker.user, password: policymaker.password });

  const started = await post(sidecar, `/bluegreen/start/${encodeURIComponent(vhost)}`, {
    ...targetBody({ idle_seconds: 2 }),
    target_user: targetAdm.user,
    target_password: password,
  });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const id = started.body.drain_id;
  await waitStatus(sidecar, id, (d) => d.totals.source_messages === 0 && d.queues.every((q: any) => q.link.state === 'running'), 'draining');

  // The policymaker reads the record and the drain's shovel parameters: no target admin password.
  const recordText = JSON.stringify(await pm.ok('GET', `/global-parameters/${enc(`qmig.bluegreen.${id}`)}`));
  assert.ok(recordText.includes(targetAdm.user), 'the policymaker did read the record');
  for (const secret of [password, encodeURIComponent(password)]) assert.ok(!recordText.includes(secret), 'no target password in the record');
  const shovelText = JSON.stringify(await pm.ok('GET', `/parameters/shovel/${enc(vhost)}`));
  assert.ok(!shovelText.includes(password) && !shovelText.includes(encodeURIComponent(password)), 'no target admin password in the shovels');

  // Forged requests (unsealed) are not acted on; a forged record is not listed.
  const forgedAt = Date.now();
  await pm.ok('PUT', `/global-parameters/${enc(`qmig.bluegreen-cancel.${id}`)}`, {
    name: `qmig.bluegreen-cancel.${id}`,
    value: { requested_at: '2026-12-03 00:00:00', by: 'forger' },
  });
  await pm.ok('PUT', `/global-parameters/${enc(`qmig.bluegreen-cutover.${id}`)}`, {
    name: `qmig.bluegreen-cutover.${id}`,
    value: { qmig_seal: 1, mac: '0'.repeat(64), data: { requested_at: '2026-12-03 00:00:00', by: 'forger' } },
  });
  const forgedId = Buffer.from(`qmig|${Date.now()}|forged@node|0123456789abcdef`).toString('base64url');
  const stored = await new DrainStore(admin(), testSeal()).load(id);
  await pm.ok('PUT', `/global-parameters/${enc(`qmig.bluegreen.${forgedId}`)}`, { name: `qmig.bluegreen.${forgedId}`, value: { ...stored, id: forgedId } });
  t.after(() =>
    admin()
      .deleteGlobalParameter(`qmig.bluegreen.${forgedId}`)
      .catch(() => undefined),
  );
  // The monitor wrote the record after the forgeries (it read them on that tick): still draining.
  const store = new DrainStore(admin(), testSeal());
  const after = await eventually(
    async () => {
      const r = await store.load(id);
      return r && Date.parse(r.updated_at.replace(' ', 'T') + 'Z') >= forgedAt + 2000 ? r : null;
    },
    30_000,
    'a record write after the forgeries',
  );
  assert.equal(after.status, 'draining');
  assert.equal(after.cancel_requested_at, null);
  assert.equal(after.cutover_requested_at, null);
  const list = await get(sidecar, '/bluegreen/status');
  assert.ok(!list.body.some((s: any) => s.drain_id === forgedId), 'the forged record is not listed');
  assert.equal((await get(sidecar, `/bluegreen/status/${forgedId}`)).status, 404);

  // A management-tagged user gets the refusal of the existing bluegreen routes.
  const planRefusal = await sidecar
    .api(`${P}/bluegreen/plan/${encodeURIComponent(vhost)}`, {
      method: 'POST',
      auth: manager,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(targetBody()),
    })
    .then(json);
  assert.equal(planRefusal.status, 403);
  const calls: Array<[string, string, unknown]> = [
    ['POST', `/bluegreen/start/${encodeURIComponent(vhost)}`, targetBody()],
    ['POST', `/bluegreen/cutover/${id}`, {}],
    ['POST', `/bluegreen/cancel/${id}`, {}],
    ['GET', `/bluegreen/status/${id}`, undefined],
    ['GET', '/bluegreen/status', undefined],
  ];
  for (const [method, path, body] of calls) {
    const res = await sidecar
      .api(P + path, { method, auth: manager, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(json);
    assert.equal(res.status, 403, `${method} ${path}`);
    assertSchema('error-response', res.body);
    assert.deepEqual(res.body, planRefusal.body, `${method} ${path}: the refusal of bluegreen/plan`);
  }
  assert.equal((await get(sidecar, `/bluegreen/status/${id}`)).body.status, 'draining', 'nothing was acted on');

  const cancelled = await post(sidecar, `/bluegreen/cancel/${id}`, {});
  assert.equal(cancelled.body.status, 'cancelled');
});
