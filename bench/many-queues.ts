/**
 * Figures 2 and 5: 500 mirrored queues × 100 messages migrated end to end by a sidecar process
 * (POST start → final status seen; target ≤ 60 s), and that sidecar's peak RSS during the run
 * (VmHWM from /proc, and the highest VmRSS sampled every 100 ms; target ≤ 150 MB).
 * BENCH_QUEUES / BENCH_QUEUE_MESSAGES override the load.
 */
import { brokerPids, cpuSecondsOf, declareQueues, deleteVhost, freshVhost, memoryOf, mgmt, migrateThroughSidecar, publishTo, seconds, startSidecarProcess, waitMirrored, type SidecarProcess } from './bench-support.js';
import os from 'node:os';
import type { Figure } from './figure.js';

const QUEUES = Number(process.env.BENCH_QUEUES ?? 500);
const QUEUE_MESSAGES = Number(process.env.BENCH_QUEUE_MESSAGES ?? 100);
const BODY = Buffer.alloc(100, 'x');
const MB = (kb: number) => kb / 1024;

export async function manyQueues(nodes: string[]): Promise<Figure[]> {
  const vhost = await freshVhost('many');
  let sidecar: SidecarProcess | null = null;
  try {
    const names = Array.from({ length: QUEUES }, (_, i) => `bench-${String(i).padStart(4, '0')}`);
    console.log(`[2] declaring ${QUEUES} mirrored queues over ${nodes.length} nodes, ${QUEUE_MESSAGES} messages each …`);
    await declareQueues(vhost, names, nodes.length);
    await publishTo(vhost, new Map(names.map((n) => [n, QUEUE_MESSAGES])), BODY);
    await waitMirrored(vhost, QUEUES);
    const masters: Record<string, number> = {};
    for (const q of await mgmt.queues(vhost, ['name', 'node'])) masters[q.node ?? '?'] = (masters[q.node ?? '?'] ?? 0) + 1;

    sidecar = await startSidecarProcess(vhost);
    const idle = memoryOf(sidecar.child.pid!);
    // Where the time goes: CPU used by the sidecar and by the broker nodes during the run.
    const brokers = brokerPids();
    const cpu = () => ({ sidecar: cpuSecondsOf(sidecar!.child.pid!), brokers: brokers.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0) });
    const cpu0 = cpu();
    const mig = await migrateThroughSidecar(sidecar.url, vhost);
    const cpu1 = cpu();
    const peak = sidecar.peak();
    if (mig.status !== 'completed' || mig.completed !== QUEUES) throw new Error(`migration ended ${mig.status} with ${mig.completed} queues: ${mig.error}`);
    const peakMb = MB(Math.max(peak.hwmKb, peak.rssKb));
    return [
      {
        id: '2',
        name: `${QUEUES} mirrored queues × ${QUEUE_MESSAGES} messages, end to end`,
        value: `${seconds(mig.ms)} s`,
        target: '≤ 60 s',
        met: mig.ms <= 60_000,
        details: [
          `masters per node ${JSON.stringify(masters)}`,
          `${mig.completed} queues completed; ${(QUEUES / (mig.ms / 1000)).toFixed(1)} queues/s`,
          `CPU during the run: sidecar ${(cpu1.sidecar - cpu0.sidecar).toFixed(1)} s, ${brokers.length} broker nodes ${(cpu1.brokers - cpu0.brokers).toFixed(1)} s, over ${seconds(mig.ms)} s of wall time on ${os.availableParallelism()} cores`,
        ],
      },
      {
        id: '5',
        name: `sidecar peak RSS during the ${QUEUES}-queue run`,
        value: `${peakMb.toFixed(1)} MB`,
        target: '≤ 150 MB',
        met: peakMb <= 150,
        details: [`VmHWM ${MB(peak.hwmKb).toFixed(1)} MB, highest sampled VmRSS ${MB(peak.rssKb).toFixed(1)} MB, idle before the run ${idle ? MB(idle.rssKb).toFixed(1) : '?'} MB (node ${process.version}, dist build)`],
      },
    ];
  } finally {
    await sidecar?.stop();
    await deleteVhost(vhost);
  }
}
