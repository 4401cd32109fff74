/**
 * Figure 8 (issue 18): blue-green drain throughput. The same backlog (one mirrored queue of
 * BENCH_DRAIN_MESSAGES × 100 B, default 50,000) moved to the independent target cluster twice,
 * in two vhosts of their own:
 *   - by a bare dynamic shovel (`ack-mode: on-confirm`, the same prefetch as qmig's links,
 *     `src-delete-after: queue-length`), created by hand: the broker's own speed;
 *   - by `POST bluegreen/start/:vhost` through a sidecar process: definitions applied on the
 *     target, the temporary user, one link per queue — timed from the request until the target
 *     queue holds every message (exact count over AMQP), then cut over.
 * The figure is qmig's messages/s ÷ the bare shovel's, from one run (target ≥ 0.9). The order
 * alternates per round (BENCH_DRAIN_ROUNDS, default 2) so that a cluster warming up or slowing
 * down does not favour one side. The target cluster: QMIG_TARGET_MGMT_URL / QMIG_TARGET_AMQP_URL
 * (default the test script's `test-target`, management 16772, AMQP 6772).
 */
import amqplib from 'amqplib';
import { enc, ManagementClient } from '../src/broker/management-client.js';
import { amqpUrl, api, deleteVhost, freshVhost, mgmt, PASSWORD, publishTo, seconds, sleep, startSidecarProcess, USER, waitMirrored } from './bench-support.js';
import type { Figure } from './figure.js';

const MESSAGES = Number(process.env.BENCH_DRAIN_MESSAGES ?? 50_000);
const ROUNDS = Number(process.env.BENCH_DRAIN_ROUNDS ?? 2);
const PREFETCH = Number(process.env.QMIG_TRANSFER_PREFETCH ?? 1000);
const BODY = Buffer.alloc(100, 'x');
const TARGET_MGMT = process.env.QMIG_TARGET_MGMT_URL ?? 'http://127.0.0.1:16772';
const TARGET_AMQP = process.env.QMIG_TARGET_AMQP_URL ?? 'amqp://127.0.0.1:6772';
const QUEUE = 'bench-drain';

const target = new ManagementClient({ baseUrl: TARGET_MGMT, user: USER, password: PASSWORD, timeoutMs: 60_000 });

function targetAmqp(vhost: string): string {
  const u = new URL(TARGET_AMQP);
  u.username = encodeURIComponent(USER);
  u.password = encodeURIComponent(PASSWORD);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

/** Until the target queue holds `expected` messages (exact, AMQP passive declare); ms waited. */
async function waitOnTarget(vhost: string, expected: number, timeoutMs = 900_000): Promise<void> {
  const conn = await amqplib.connect(targetAmqp(vhost));
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ch = await conn.createChannel();
      const n = await ch
        .checkQueue(QUEUE)
        .then((q) => q.messageCount)
        .catch(() => -1);
      await ch.close().catch(() => undefined);
      if (n >= expected) return;
      if (Date.now() > deadline) throw new Error(`${vhost}: the target queue holds ${n} of ${expected} messages`);
      await sleep(50);
    }
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** A source vhost with one mirrored queue of MESSAGES messages. */
async function seededVhost(label: string): Promise<string> {
  const vhost = await freshVhost(label);
  const conn = await amqplib.connect(amqpUrl(vhost));
  await (await conn.createChannel()).assertQueue(QUEUE, { durable: true });
  await conn.close();
  await publishTo(vhost, new Map([[QUEUE, MESSAGES]]), BODY);
  await waitMirrored(vhost, 1);
  return vhost;
}

async function dropTargetVhost(vhost: string): Promise<void> {
  await target.deleteIfExists(`/vhosts/${enc(vhost)}`).catch((err) => console.error(`cannot delete ${vhost} on the target: ${(err as Error).message}`));
}

/** The bare shovel: ms from its creation until the target holds every message. */
async function bareShovel(): Promise<number> {
  const vhost = await seededVhost('drainbare');
  try {
    await target.putVhost(vhost);
    await target.setPermission(vhost, USER, { configure: '.*', write: '.*', read: '.*' });
    await target.declareQueue(vhost, QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const t0 = performance.now();
    await mgmt.ok('PUT', `/parameters/shovel/${enc(vhost)}/bench-bare`, {
      value: {
        'src-protocol': 'amqp091',
        'src-uri': `amqp:///${enc(vhost)}`,
        'src-queue': QUEUE,
        'src-prefetch-count': PREFETCH,
        'src-delete-after': 'queue-length',
        'dest-protocol': 'amqp091',
        'dest-uri': targetAmqp(vhost),
        'dest-queue': QUEUE,
        'ack-mode': 'on-confirm',
      },
    });
    await waitOnTarget(vhost, MESSAGES);
    return performance.now() - t0;
  } finally {
    await deleteVhost(vhost);
    await dropTargetVhost(vhost);
  }
}

/** qmig's drain: ms from POST bluegreen/start until the target holds every message; then cut over. */
async function qmigDrain(): Promise<{ ms: number; cutoverMs: number }> {
  const vhost = await seededVhost('drainqmig');
  const sidecar = await startSidecarProcess(vhost);
  try {
    const t0 = performance.now();
    const start = await api(`${sidecar.url}/api/queue-migration/bluegreen/start/${enc(vhost)}`, 'POST', {
      target: TARGET_MGMT,
      target_user: USER,
      target_password: PASSWORD,
      reason: 'bench: drain throughput',
      idle_seconds: 1,
    });
    if (start.status !== 202) throw new Error(`bluegreen start answered ${start.status}: ${JSON.stringify(start.body)}`);
    await waitOnTarget(vhost, MESSAGES);
    const ms = performance.now() - t0;
    const id = start.body.drain_id as string;
    const t1 = performance.now();
    const cut = await api(`${sidecar.url}/api/queue-migration/bluegreen/cutover/${enc(id)}`, 'POST', {});
    if (cut.status !== 202) throw new Error(`cutover answered ${cut.status}: ${JSON.stringify(cut.body)}`);
    for (;;) {
      const s = await api(`${sidecar.url}/api/queue-migration/bluegreen/status/${enc(id)}`, 'GET');
      if (s.status !== 200) throw new Error(`status answered ${s.status}: ${JSON.stringify(s.body)}`);
      if (s.body.status === 'completed') break;
      if (s.body.status !== 'draining' && s.body.status !== 'cutting_over') throw new Error(`the drain ended ${s.body.status}: ${s.body.error}`);
      if (performance.now() - t1 > 120_000) throw new Error('the cut-over did not complete in 120 s');
      await sleep(200);
    }
    return { ms, cutoverMs: performance.now() - t1 };
  } finally {
    await sidecar.stop();
    await deleteVhost(vhost);
    await dropTargetVhost(vhost);
  }
}

const rate = (ms: number) => MESSAGES / (ms / 1000);

export async function drainThroughput(): Promise<Figure> {
  await target.ok('GET', '/overview').catch((err) => {
    throw new Error(
      `no target cluster at ${TARGET_MGMT} (${(err as Error).message}): start one, e.g. npm run cluster -- up --name test-target --nodes 1 --offset 1100`,
    );
  });
  const bare: number[] = [];
  const qmig: number[] = [];
  const cutovers: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['bare', 'qmig'] : ['qmig', 'bare'];
    for (const side of order) {
      console.log(`[8] round ${round + 1}: ${side} …`);
      if (side === 'bare') bare.push(await bareShovel());
      else {
        const r = await qmigDrain();
        qmig.push(r.ms);
        cutovers.push(r.cutoverMs);
      }
    }
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const ratio = rate(sum(qmig) / qmig.length) / rate(sum(bare) / bare.length);
  return {
    id: '8',
    name: `blue-green drain of 1 mirrored queue × ${MESSAGES} × ${BODY.length} B to the target cluster, messages/s ÷ a bare shovel's`,
    value: ratio.toFixed(3),
    target: '≥ 0.9',
    met: ratio >= 0.9,
    details: [
      `qmig (POST bluegreen/start → every message on the target): ${qmig.map((ms) => `${seconds(ms)} s = ${rate(ms).toFixed(0)} msg/s`).join(', ')}`,
      `bare shovel (created → every message on the target): ${bare.map((ms) => `${seconds(ms)} s = ${rate(ms).toFixed(0)} msg/s`).join(', ')}`,
      `cut-over (POST cutover → completed, idle_seconds 1): ${cutovers.map((ms) => `${seconds(ms)} s`).join(', ')}`,
      `${ROUNDS} round(s), order alternating; shovel prefetch ${PREFETCH}`,
    ],
  };
}
