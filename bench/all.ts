/**
 * `npm run bench:all`: every figure of issue 7 in one run against the local 3-node cluster (the
 * `test` cluster by default; QMIG_CLUSTER_MGMT_URLS / QMIG_CLUSTER_AMQP_URLS for another), each
 * printed with the machine's core count, the target and whether it is met:
 *   1  in-place migration of 1 queue × 100k × 100 B ÷ two bare shovel moves   (≤ 1.15)
 *   2  500 mirrored queues × 100 messages end to end                            (≤ 60 s)
 *   3  GET status and status/:id of a 10,000-queue record, p99 at 200 req/s     (≤ 25 ms),
 *      beside the broker's own GET /api/overview at the same rate
 *   4  check on a vhost of 5,000 mirrored queues                                 (≤ 3 s)
 *   5  the sidecar's peak RSS during the 500-queue run                           (≤ 150 MB)
 *   6  the plan's estimate vs the measured run: 500×100 and 50×4,000 mixed     (|error| ≤ 25 %)
 *   7  broker CPU per migrated queue, by operation (issue 20's breakdown)
 *   8  blue-green drain to the target cluster: messages/s ÷ a bare shovel's      (≥ 0.9)
 * Sidecars run as child processes from the production build (dist/); load comes from another
 * process. Every part works in a fresh vhost and removes it. BENCH_PARTS=1,3 runs only some parts.
 * Run it when the machine is otherwise quiet: the figures are wall-clock times.
 */
import os from 'node:os';
import { loadConfig } from '../src/config/config.js';
import { brokerCpuBreakdown } from './broker-cpu.js';
import { checkMany } from './check-many.js';
import { drainThroughput } from './drain-throughput.js';
import { MGMT_URLS, runningNodes, STATE_SECRET } from './bench-support.js';
import type { Figure } from './figure.js';
import { inPlaceRatio } from './in-place-ratio.js';
import { manyQueues } from './many-queues.js';
import { planEstimate } from './plan-estimate.js';
import { statusLatency } from './status-latency.js';

const parts = new Set((process.env.BENCH_PARTS ?? '1,2,3,4,5,6,7,8').split(',').map((s) => s.trim()));
const cores = os.availableParallelism();
const nodes = await runningNodes();
const concurrency = loadConfig({ QMIG_STATE_SECRET: STATE_SECRET, ...process.env }).concurrency;
console.log(`qmig bench:all — ${new Date().toISOString()}`);
console.log(
  `machine: ${cores} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; node ${process.version}`,
);
console.log(`cluster: ${MGMT_URLS[0]} (${nodes.length} running nodes: ${nodes.join(', ')}); migration concurrency ${concurrency}`);
console.log('');

const figures: Figure[] = [];
const failures: string[] = [];
async function part(ids: string[], run: () => Promise<Figure | Figure[]>): Promise<void> {
  if (!ids.some((id) => parts.has(id))) return;
  try {
    const out = await run();
    for (const f of Array.isArray(out) ? out : [out]) {
      figures.push(f);
      console.log(`[${f.id}] ${f.value} (target ${f.target}: ${f.met ? 'met' : 'MISSED'})`);
    }
  } catch (err) {
    failures.push(`[${ids.join('+')}] failed: ${(err as Error).stack ?? err}`);
    console.error(failures[failures.length - 1]);
  }
}

await part(['1'], () => inPlaceRatio(nodes));
await part(['2', '5'], () => manyQueues(nodes));
await part(['3'], () => statusLatency());
await part(['4'], () => checkMany(nodes));
await part(['6'], () => planEstimate(nodes));
await part(['7'], () => brokerCpuBreakdown(nodes));
await part(['8'], () => drainThroughput());

console.log('');
console.log(`=== qmig figures (${cores} cores, ${nodes.length}-node cluster) ===`);
for (const f of figures.sort((a, b) => a.id.localeCompare(b.id))) {
  console.log(`[${f.id}] ${f.name}: ${f.value} — target ${f.target}: ${f.met ? 'MET' : 'MISSED'} (${cores} cores)`);
  for (const d of f.details) console.log(`      ${d}`);
}
for (const f of failures) console.log(f.split('\n')[0]);
process.exitCode = failures.length > 0 ? 1 : 0;
