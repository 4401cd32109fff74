/**
 * Figure 1: migration of ONE mirrored queue of 100k × 100 B messages, end to end through a sidecar
 * process (POST start → final status seen), divided by the time of two bare shovel moves of the
 * same amount of data (classic → quorum → quorum: the least an in-place migration must do).
 * Target ≤ 1.15. BENCH_MESSAGES overrides the count.
 */
import { AmqpPool } from '../src/broker/amqp.js';
import { moveMessages } from '../src/broker/shovels.js';
import {
  AMQP_URLS,
  deleteVhost,
  freshVhost,
  mgmt,
  migrateThroughSidecar,
  PASSWORD,
  publishTo,
  seconds,
  startSidecarProcess,
  USER,
  waitMirrored,
  type SidecarProcess,
} from './bench-support.js';
import type { Figure } from './figure.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const BODY = Buffer.alloc(100, 'x');

export async function inPlaceRatio(nodes: string[]): Promise<Figure> {
  const vhost = await freshVhost('ratio');
  const pool = new AmqpPool({ url: `amqp://${new URL(AMQP_URLS[0]).host}`, user: USER, password: PASSWORD });
  let sidecar: SidecarProcess | null = null;
  try {
    await mgmt.declareQueue(vhost, 'bench-base', { durable: true, arguments: {}, node: nodes[0] });
    await mgmt.declareQueue(vhost, 'bench-mig', { durable: true, arguments: {}, node: nodes[0] });
    await mgmt.declareQueue(vhost, 'base.temporary', { durable: true, arguments: { 'x-queue-type': 'quorum' }, node: nodes[0] });
    await mgmt.declareQueue(vhost, 'base.final', { durable: true, arguments: { 'x-queue-type': 'quorum' }, node: nodes[0] });
    console.log(`[1] publishing 2 × ${MESSAGES} × ${BODY.length} B …`);
    await publishTo(
      vhost,
      new Map([
        ['bench-base', MESSAGES],
        ['bench-mig', MESSAGES],
      ]),
      BODY,
    );
    await waitMirrored(vhost, 2);

    const move = (source: string, destination: string) =>
      moveMessages(mgmt, pool, { vhost, name: `bench-${source}`, source, destination, startTimeoutMs: 30_000, timeoutMs: 600_000 });
    const t0 = performance.now();
    const m1 = await move('bench-base', 'base.temporary');
    const m2 = await move('base.temporary', 'base.final');
    const baseMs = performance.now() - t0;
    if (m2.destinationCount !== MESSAGES) throw new Error(`baseline moved ${m2.destinationCount} of ${MESSAGES}`);
    console.log(`[1] two bare shovel moves: ${seconds(m1.durationMs)} s + ${seconds(m2.durationMs)} s`);

    sidecar = await startSidecarProcess(vhost);
    const mig = await migrateThroughSidecar(sidecar.url, vhost, { queue_names: ['bench-mig'] });
    if (mig.status !== 'completed') throw new Error(`migration ended ${mig.status}: ${mig.error}`);
    const count = await pool.messageCount(vhost, 'bench-mig');
    if (count !== MESSAGES) throw new Error(`migrated queue holds ${count} of ${MESSAGES}`);
    const ratio = mig.ms / baseMs;
    return {
      id: '1',
      name: `in-place migration of 1 queue × ${MESSAGES} × ${BODY.length} B ÷ two bare shovel moves`,
      value: ratio.toFixed(3),
      target: '≤ 1.15',
      met: ratio <= 1.15,
      details: [
        `migration (POST start → completed, sidecar process) ${seconds(mig.ms)} s`,
        mig.downtime,
        `two bare shovel moves ${seconds(baseMs)} s (${seconds(m1.durationMs)} + ${seconds(m2.durationMs)})`,
      ],
    };
  } finally {
    await sidecar?.stop();
    await pool.close();
    await deleteVhost(vhost);
  }
}
