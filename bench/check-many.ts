/**
 * Figure 4: `POST check/:vhost` on a vhost of 5,000 mirrored queues, through a sidecar process.
 * One warm-up call, then BENCH_CHECK_RUNS (3) timed calls; the median is the figure. Target ≤ 3 s.
 * BENCH_CHECK_QUEUES overrides the count.
 */
import { api, declareQueues, deleteVhost, freshVhost, seconds, startSidecarProcess, waitMirrored, type SidecarProcess } from './bench-support.js';
import type { Figure } from './figure.js';

const QUEUES = Number(process.env.BENCH_CHECK_QUEUES ?? 5000);
const RUNS = Number(process.env.BENCH_CHECK_RUNS ?? 3);

export async function checkMany(nodes: string[]): Promise<Figure> {
  const vhost = await freshVhost('check');
  let sidecar: SidecarProcess | null = null;
  try {
    console.log(`[4] declaring ${QUEUES} mirrored queues …`);
    const t0 = performance.now();
    const names = Array.from({ length: QUEUES }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
    await declareQueues(vhost, names, nodes.length);
    await waitMirrored(vhost, QUEUES);
    console.log(`[4] ${QUEUES} queues mirrored in ${seconds(performance.now() - t0)} s`);
    sidecar = await startSidecarProcess(vhost);
    const url = `${sidecar.url}/api/queue-migration/check/${encodeURIComponent(vhost)}`;
    const times: number[] = [];
    let report: any = null;
    for (let i = 0; i <= RUNS; i++) {
      const t = performance.now();
      const r = await api(url, 'POST', {});
      const ms = performance.now() - t;
      if (r.status !== 200) throw new Error(`check answered ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`);
      report = r.body;
      if (i > 0) times.push(ms);
    }
    const total = report.queue_checks.summary.total_queues;
    if (total !== QUEUES) throw new Error(`check judged ${total} queues, expected ${QUEUES}`);
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
    return {
      id: '4',
      name: `check on a vhost of ${QUEUES} mirrored queues`,
      value: `${seconds(median)} s (median of ${RUNS})`,
      target: '≤ 3 s',
      met: median <= 3000,
      details: [`runs: ${times.map((t) => seconds(t) + ' s').join(', ')}; overall_ready ${report.overall_ready}; ${total} queues judged`],
    };
  } finally {
    await sidecar?.stop();
    console.log(`[4] deleting the ${QUEUES}-queue vhost …`);
    await deleteVhost(vhost);
  }
}
