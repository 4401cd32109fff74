/**
 * A client that keeps publishing (with confirms) and consuming while its vhost is migrated: it is
 * fenced (its connection is closed and its reconnects are refused while the migration runs), it
 * comes back after, and nothing it published and got confirmed is lost: every confirmed message
 * was delivered to it or is still in the queue. Another queue of the vhost, untouched by the
 * client, passes the full integrity check.
 */
import assert from 'node:assert/strict';
import amqplib, { type ChannelModel } from 'amqplib';
import { test } from 'node:test';
import { MigrationStore } from '../../src/state/migration-store.js';
import { admin, amqpUrl } from '../support/cluster.js';
import { assertIntegrity, takeBaseline } from '../support/integrity.js';
import { startTestSidecar } from '../support/sidecar.js';
import { apiJson, prepareVhost, reliabilityEnv, sleep, waitTerminal } from './reliability-support.js';
import { testSeal } from '../support/state-secret.js';

const store = new MigrationStore(admin(), testSeal());

interface ClientLog {
  confirmed: Set<string>;
  delivered: Set<string>;
  connections: number;
  closedByBroker: number;
  refused: number;
  confirmedAfterBack: number;
  deliveredAfterBack: number;
}

/**
 * Publishes to amq.direct (`rk-<queue>`) with confirms every few ms and consumes `queue` with
 * manual acks; reconnects every 200 ms when its connection is closed. Never declares the queue
 * (after the migration it is a quorum queue, which a plain redeclare would not match on 3.10).
 */
function runClient(vhost: string, queue: string, user: { user: string; password: string }) {
  const log: ClientLog = {
    confirmed: new Set(),
    delivered: new Set(),
    connections: 0,
    closedByBroker: 0,
    refused: 0,
    confirmedAfterBack: 0,
    deliveredAfterBack: 0,
  };
  let stopped = false;
  let back = false;
  let seq = 0;
  let conn: ChannelModel | null = null;
  const session = async () => {
    conn = await amqplib.connect(amqpUrl(vhost, 0, user.user, user.password));
    log.connections++;
    if (log.connections > 1) back = true;
    const closed = new Promise<void>((resolve) => conn!.once('close', () => resolve()));
    conn.on('error', () => undefined);
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    pub.on('error', () => undefined);
    sub.on('error', () => undefined);
    await sub.prefetch(50);
    await sub.consume(queue, (msg) => {
      if (!msg) return;
      log.delivered.add(String(msg.properties.messageId));
      if (back) log.deliveredAfterBack++;
      try {
        sub.ack(msg);
      } catch {
        /* channel gone: the message goes back to the queue */
      }
    });
    const publishing = (async () => {
      while (!stopped) {
        const id = `client-${seq++}`;
        const ok = await new Promise<boolean>((resolve) => {
          try {
            pub.publish('amq.direct', `rk-${queue}`, Buffer.from(id), { persistent: true, messageId: id }, (err) => resolve(!err));
          } catch {
            resolve(false);
          }
        });
        if (!ok) return;
        log.confirmed.add(id);
        if (back) log.confirmedAfterBack++;
        await sleep(5);
      }
    })();
    await Promise.race([closed, publishing.then(() => closed)]);
    if (!stopped) log.closedByBroker++;
  };
  const loop = (async () => {
    while (!stopped) {
      try {
        await session();
      } catch (err) {
        // amqplib reports a vhost refused at connection.open as "Expected ConnectionOpenOk; got <ConnectionClose …>".
        if (/ACCESS_REFUSED|403|access to vhost|Expected ConnectionOpenOk/i.test(String((err as Error).message))) log.refused++;
      }
      if (!stopped) await sleep(200);
    }
  })();
  return {
    log,
    get back() {
      return back;
    },
    async stop() {
      stopped = true;
      await (conn as ChannelModel | null)?.close().catch(() => undefined);
      await loop;
    },
  };
}

/** Message ids in the queue now (read without removing them). */
async function idsInQueue(vhost: string, queue: string): Promise<Set<string>> {
  const conn = await amqplib.connect(amqpUrl(vhost));
  const ids = new Set<string>();
  try {
    const ch = await conn.createChannel();
    for (;;) {
      const m = await ch.get(queue, { noAck: false });
      if (!m) break;
      ids.add(String(m.properties.messageId));
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
  return ids;
}

test('a publishing and consuming client is fenced during the migration, comes back after, and loses nothing confirmed', async (t) => {
  const p = await prepareVhost(
    t,
    [
      { name: 'app.busy', messages: 0, node: 0 },
      { name: 'static', messages: 2000, node: 1 },
    ],
    1,
  );
  t.after(async () => {
    for (const r of await store.listRecords().catch(() => [])) if (r.vhost === p.vhost) await store.delete(r).catch(() => undefined);
  });
  // The client's queue is busy: only the static queue's content can be compared as a multiset.
  const baseline = await takeBaseline(p.vhost, ['static'], p.baseline.users);
  const client = runClient(p.vhost, 'app.busy', p.users[0]);
  t.after(() => client.stop());
  // Let it run for a while with a backlog (slow consumer: prefetch 50, publishing every 5 ms).
  while (client.log.confirmed.size < 300) await sleep(50);

  const sidecar = await startTestSidecar(t, { env: reliabilityEnv(p.vhost) });
  const started = await apiJson(`${sidecar.url}/api/queue-migration/start/${encodeURIComponent(p.vhost)}`, 'POST', {});
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const id = started.body.migration_id;
  await waitTerminal(sidecar.url, id);
  const fencedConfirmed = client.log.confirmed.size;

  // Back in: it reconnects, publishes and consumes again on the quorum queue.
  const deadline = Date.now() + 30_000;
  while (!(client.back && client.log.confirmedAfterBack >= 50 && client.log.deliveredAfterBack >= 1)) {
    assert.ok(
      Date.now() < deadline,
      `the client did not come back: ${JSON.stringify({ ...client.log, confirmed: client.log.confirmed.size, delivered: client.log.delivered.size })}`,
    );
    await sleep(100);
  }
  await client.stop();

  assert.ok(client.log.closedByBroker >= 1, "the client's connection was closed by the fence");
  assert.ok(client.log.refused >= 1, "the client's reconnects were refused while the migration ran");
  assert.ok(fencedConfirmed >= 300);
  const remaining = await idsInQueue(p.vhost, 'app.busy');
  const lost = [...client.log.confirmed].filter((m) => !client.log.delivered.has(m) && !remaining.has(m));
  assert.deepEqual(lost, [], `${lost.length} confirmed message(s) neither delivered nor in the queue`);
  assert.equal((await admin().queue(p.vhost, 'app.busy'))?.type, 'quorum');
  await assertIntegrity(baseline, id);
});
