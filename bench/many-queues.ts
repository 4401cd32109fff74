/**
 * Figures 2 and 5: 500 mirrored queues × 100 messages migrated end to end by a sidecar process
 * (POST start → final status seen; target ≤ 60 s), and that sidecar's peak RSS during the run
 * (VmHWM from /proc, and the highest VmRSS sampled every 100 ms; target ≤ 150 MB).
 * BENCH_QUEUES / BENCH_QUEUE_MESSAGES override the load.
 */
import {
  imageNodeOptions,
  brokerPids,
  managementCallCounts,
  cpuSecondsOf,
  declareQueues,
  deleteVhost,
  freshVhost,
  memoryOf,
  mgmt,
  migrateThroughSidecar,
  publishTo,
  seconds,
  startSidecarProcess,
  waitMirrored,
  type SidecarProcess,
} from './bench-support.js';
import os from 'node:os';
import type { Figure } from './figure.js';

const QUEUES = Number(process.env.BENCH_QUEUES ?? 500);
const QUEUE_MESSAGES = Number(process.env.BENCH_QUEUE_MESSAGES ?? 100);
const BODY = Buffer.alloc(100, 'x');
const MB = (kb: number) => kb / 1024;
const lastHeap: Record<string, number> = {};
const slowBelow = new Map<string, number>();
const slowAll = new Map<string, number>();

/** Management API requests the sidecar made so far, by "METHOD endpoint", and its heap (its own /metrics). */
async function managementCalls(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  slowBelow.clear();
  slowAll.clear();
  for (const m of text.matchAll(/^(nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes) (\S+)/gm))
    lastHeap[m[1]] = Number(m[2]);
  const calls = managementCallCounts(text);
  // Requests slower than 5 s (count minus the 5-second bucket), by "METHOD endpoint".
  for (const m of text.matchAll(/^qmig_broker_request_duration_seconds_bucket\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.method} ${labels.endpoint}`;
    if (labels.le === '5') slowBelow.set(key, (slowBelow.get(key) ?? 0) + Number(m[2]));
    if (labels.le === '+Inf') slowAll.set(key, (slowAll.get(key) ?? 0) + Number(m[2]));
  }
  return calls;
}

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
    const calls0 = await managementCalls(sidecar.url);
    const cpu0 = cpu();
    const mig = await migrateThroughSidecar(sidecar.url, vhost);
    const cpu1 = cpu();
    const calls1 = await managementCalls(sidecar.url);
    const perQueue = [...calls1.entries()]
      .map(([k, n]) => [k, (n - (calls0.get(k) ?? 0)) / QUEUES] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n.toFixed(1)}`);
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
          mig.downtime,
          `management API calls per queue: ${perQueue.join(', ')}`,
          `management API calls slower than 5 s: ${
            [...slowAll.entries()]
              .map(([k, n]) => [k, n - (slowBelow.get(k) ?? 0)] as const)
              .filter(([, n]) => n > 0)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ') || 'none'
          }`,
          `CPU during the run: sidecar ${(cpu1.sidecar - cpu0.sidecar).toFixed(1)} s, ${brokers.length} broker nodes ${(cpu1.brokers - cpu0.brokers).toFixed(1)} s, over ${seconds(mig.ms)} s of wall time on ${os.availableParallelism()} cores`,
        ],
      },
      {
        id: '5',
        name: `sidecar peak RSS during the ${QUEUES}-queue run`,
        value: `${peakMb.toFixed(1)} MB`,
        target: '≤ 150 MB',
        met: peakMb <= 150,
        details: [
          `at the end: V8 heap ${((lastHeap.nodejs_heap_size_used_bytes ?? 0) / 1048576).toFixed(1)} MB used of ${((lastHeap.nodejs_heap_size_total_bytes ?? 0) / 1048576).toFixed(1)} MB, external ${((lastHeap.nodejs_external_memory_bytes ?? 0) / 1048576).toFixed(1)} MB`,
          `VmHWM ${MB(peak.hwmKb).toFixed(1)} MB, highest sampled VmRSS ${MB(peak.rssKb).toFixed(1)} MB, idle before the run ${idle ? MB(idle.rssKb).toFixed(1) : '?'} MB (node ${process.version}, NODE_OPTIONS ${process.env.NODE_OPTIONS ?? imageNodeOptions()}, dist build)`,
        ],
      },
    ];
  } finally {
    await sidecar?.stop();
    await deleteVhost(vhost);
  }
}
