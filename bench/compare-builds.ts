/**
 * `npm run bench:compare -- --baseline <git-rev>`: the status, check and start latencies of this
 * checkout's build (the candidate, dist/) beside those of another revision (the baseline), in ONE
 * run, each figure with the ratio candidate ÷ baseline (target ≤ 1.10). The machine is shared and
 * noisy, so the two builds are measured interleaved — A/B, then B/A, in every round — so that
 * whatever else the machine does weighs on both alike.
 *
 * The baseline is built in a git worktree of its own outside the repository,
 * /tmp/qmig-baseline-<rev> (`git worktree add --detach`, `npm ci`, `npm run build`), unless it is
 * there already. One sidecar of each build runs as a child process (`node <root>/dist/cli/main.js
 * serve`, the image's node options), each with a fresh state vhost of its own and the bench's
 * QMIG_STATE_SECRET (a build from before sealed state ignores it). Housekeeping is scheduled once a
 * year in both: the cluster is shared, and a build that cannot read the other's (or the tests')
 * sealed records must not prune flags it does not understand.
 *
 * Each build measures on records IT wrote: the two 10,000-queue records of `GET status/:id`
 * (bench/status-latency.ts) are written through the build's own MigrationStore (the baseline's
 * from its dist/, unsealed; the candidate's sealed), measured, and deleted again before the other
 * build's are written — so neither build's status list holds records of the other. Per round:
 *   status   GET status, status/:id (finished), status/:id (in progress on another sidecar):
 *            p50 and p99 at BENCH_CMP_RATE (200, as bench:all) req/s for BENCH_CMP_STATUS_SECONDS
 *            (5) s each after 2 s not counted, from the open-loop load client
 *            (bench/load-client.ts) in its own process (BENCH_STATUS_QUEUES: 10,000 queues);
 *   check    BENCH_CMP_CHECK_CALLS (2) calls of POST check/:vhost per build, alternating, on one
 *            vhost of BENCH_CMP_CHECK_QUEUES (1,000) mirrored queues;
 *   start    POST start/:vhost on a fresh vhost of BENCH_CMP_START_QUEUES (3) mirrored queues of
 *            100 messages: ms until the 200 answer; the migration then runs to its end before the
 *            other build starts.
 * BENCH_CMP_ROUNDS (4) rounds; one start per build before them is not counted (warm-up). The
 * figures are the medians over the rounds. BENCH_CMP_CPU_PROF=<dir> runs the candidate with
 * --cpu-prof into that directory. Sidecar logs: /tmp/qmig-bench-compare-<build>.log.
 * Every vhost is fresh and deleted at the end, with the records the run wrote.
 */
import { closeSync, existsSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MigrationStore } from '../src/state/migration-store.js';
import type { MigrationRecord, QueueRecord } from '../src/state/records.js';
import {
  api,
  benchSeal,
  declareQueues,
  deleteVhost,
  freshVhost,
  MGMT_URLS,
  mgmt,
  PASSWORD,
  publishTo,
  runLoad,
  runningNodes,
  seconds,
  startSidecarProcess,
  STATE_SECRET,
  USER,
  waitMirrored,
  type LoadResult,
  type SidecarProcess,
} from './bench-support.js';
import { fakeMigration } from './status-latency.js';
import { prepareBaseline, run } from './baseline-build.js';

const TARGET = 1.1;
const ROUNDS = Number(process.env.BENCH_CMP_ROUNDS ?? 4);
const STATUS_QUEUES = Number(process.env.BENCH_STATUS_QUEUES ?? 10_000);
const RATE = Number(process.env.BENCH_CMP_RATE ?? 200);
const STATUS_SECONDS = Number(process.env.BENCH_CMP_STATUS_SECONDS ?? 5);
const CHECK_QUEUES = Number(process.env.BENCH_CMP_CHECK_QUEUES ?? 1000);
const CHECK_CALLS = Number(process.env.BENCH_CMP_CHECK_CALLS ?? 2);
const START_QUEUES = Number(process.env.BENCH_CMP_START_QUEUES ?? 3);
const CPU_PROF = process.env.BENCH_CMP_CPU_PROF;
/** Housekeeping once a year (never during the run): see the header. */
const NO_HOUSEKEEPING = '0 0 0 1 1 *';

/** What the bench needs of a build's own migration store (the baseline's is loaded from its dist/). */
interface StoreLike {
  create(record: MigrationRecord, queues: QueueRecord[]): Promise<void>;
  delete(record: MigrationRecord): Promise<void>;
  loadRecord(id: string): Promise<MigrationRecord | null>;
}

interface Build {
  label: 'baseline' | 'candidate';
  rev: string;
  root: string;
  store: StoreLike;
  stateVhost: string;
  sidecar: SidecarProcess | null;
  logFd: number;
  /** Migrations it started whose records are not deleted yet. */
  started: Set<string>;
}

type StatusKind = 'list' | 'finished' | 'in_progress';
const STATUS_LABEL: Record<StatusKind, string> = {
  list: 'GET status',
  finished: `GET status/:id, finished ${STATUS_QUEUES}-queue migration`,
  in_progress: `GET status/:id, ${STATUS_QUEUES}-queue migration in progress on another sidecar`,
};

interface Samples {
  status: Record<StatusKind, LoadResult[]>;
  checkMs: number[];
  startMs: number[];
  migrationMs: number[];
}

// ---------------------------------------------------------------------------------------------
// Arguments and the baseline build

function argument(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** The baseline's own MigrationStore and management client, from its dist/ (its own node_modules). */
async function baselineStore(root: string): Promise<StoreLike> {
  const url = (p: string) => pathToFileURL(path.join(root, 'dist', p)).href;
  const { ManagementClient } = await import(url('broker/management-client.js'));
  const { MigrationStore: Store } = await import(url('state/migration-store.js'));
  const client = new ManagementClient({ baseUrl: MGMT_URLS[0], user: USER, password: PASSWORD, timeoutMs: 120_000 });
  // A baseline that already seals its state gets the bench's key, like the candidate.
  if (existsSync(path.join(root, 'dist', 'state', 'state-seal.js'))) {
    const { StateSeal } = await import(url('state/state-seal.js'));
    return new Store(client, new StateSeal(STATE_SECRET));
  }
  return new Store(client);
}

// ---------------------------------------------------------------------------------------------
// Figures

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Both builds, in the order of this round: A/B in even rounds, B/A in odd ones. */
const inOrder = (builds: Build[], round: number) => (round % 2 === 0 ? builds : [...builds].reverse());

async function statusRound(b: Build, round: number, recordsVhost: string, node: string, samples: Samples): Promise<void> {
  const finished = fakeMigration(recordsVhost, node, 'completed', 'bench-finished', b.stateVhost, STATUS_QUEUES);
  const foreign = fakeMigration(recordsVhost, node, 'in_progress', 'another-sidecar/1/bench', `${b.stateVhost}-elsewhere`, STATUS_QUEUES);
  const t0 = performance.now();
  try {
    await b.store.create(finished.record, finished.queues);
    await b.store.create(foreign.record, foreign.queues);
    const statusUrl = `${b.sidecar!.url}/api/queue-migration/status`;
    for (const id of [finished.record.id, foreign.record.id]) {
      const r = await api(`${statusUrl}/${id}`, 'GET');
      if (r.status !== 200 || r.body.queues.length !== STATUS_QUEUES)
        throw new Error(`${b.label}: status/${id} answered ${r.status} with ${r.body?.queues?.length} queues`);
    }
    const listed = await api(statusUrl, 'GET');
    const ids = new Set((listed.body?.migrations ?? []).map((m: { id: string }) => m.id));
    if (!ids.has(finished.record.id) || !ids.has(foreign.record.id)) throw new Error(`${b.label}: GET status does not list the records it wrote`);
    console.log(`  round ${round} ${b.label}: records written in ${seconds(performance.now() - t0)} s; ${RATE} req/s × ${STATUS_SECONDS} s each …`);
    const urls: Record<StatusKind, string> = {
      list: statusUrl,
      finished: `${statusUrl}/${finished.record.id}`,
      in_progress: `${statusUrl}/${foreign.record.id}`,
    };
    for (const kind of ['list', 'finished', 'in_progress'] as StatusKind[]) {
      const r = await runLoad(`${b.label} ${STATUS_LABEL[kind]}`, urls[kind], RATE, STATUS_SECONDS);
      samples.status[kind].push(r);
      console.log(
        `    ${STATUS_LABEL[kind]}: p50 ${r.p50} ms, p99 ${r.p99} ms${r.errors > 0 ? `; ${r.errors} of ${r.sent} requests failed (no 200 within 30 s)` : ''}`,
      );
    }
  } finally {
    await b.store.delete(finished.record).catch((err) => console.error(`cannot delete record ${finished.record.id}: ${(err as Error).message}`));
    await b.store.delete(foreign.record).catch((err) => console.error(`cannot delete record ${foreign.record.id}: ${(err as Error).message}`));
  }
}

async function checkOnce(b: Build, vhost: string): Promise<number> {
  const t = performance.now();
  const r = await api(`${b.sidecar!.url}/api/queue-migration/check/${encodeURIComponent(vhost)}`, 'POST', {});
  const ms = performance.now() - t;
  if (r.status !== 200) throw new Error(`${b.label}: check answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  const total = r.body.queue_checks.summary.total_queues;
  if (total !== CHECK_QUEUES) throw new Error(`${b.label}: check judged ${total} queues, expected ${CHECK_QUEUES}`);
  return ms;
}

/** A fresh vhost of START_QUEUES mirrored queues × 100 messages, ready to migrate. */
async function startVhost(nodes: number): Promise<string> {
  const vhost = await freshVhost('cmpstart');
  const names = Array.from({ length: START_QUEUES }, (_, i) => `bench-${i}`);
  await declareQueues(vhost, names, nodes);
  await publishTo(vhost, new Map(names.map((n) => [n, 100])), Buffer.alloc(100, 'x'));
  await waitMirrored(vhost, START_QUEUES);
  return vhost;
}

/** POST start → 200 (timed), then the migration to its end; its vhost and record removed. */
async function startOnce(b: Build, vhost: string): Promise<{ startMs: number; totalMs: number; id: string }> {
  const url = `${b.sidecar!.url}/api/queue-migration/start/${encodeURIComponent(vhost)}`;
  const t0 = performance.now();
  const started = await api(url, 'POST', {});
  const startMs = performance.now() - t0;
  if (started.status !== 200) throw new Error(`${b.label}: start refused (${started.status}): ${JSON.stringify(started.body)}`);
  const id: string = started.body.migration_id;
  b.started.add(id);
  for (;;) {
    const s = await api(`${b.sidecar!.url}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
    const status = s.body?.migration?.status;
    if (s.status === 200 && ['completed', 'failed', 'interrupted', 'rollback_pending', 'rollback_completed'].includes(status)) {
      if (status !== 'completed') throw new Error(`${b.label}: migration of ${vhost} ended ${status}: ${s.body.migration.error}`);
      return { startMs, totalMs: performance.now() - t0, id };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The vhost of a start, and the record of its migration (through the build's own store). */
async function removeStarted(b: Build, vhost: string, id: string | null): Promise<void> {
  if (vhost)
    await mgmt.deleteIfExists(`/vhosts/${encodeURIComponent(vhost)}`).catch((err) => console.error(`cannot delete ${vhost}: ${(err as Error).message}`));
  const record = id ? await b.store.loadRecord(id).catch(() => null) : null;
  if (record) await b.store.delete(record).catch((err) => console.error(`cannot delete record ${id}: ${(err as Error).message}`));
  if (id) b.started.delete(id);
}

function ratioLine(name: string, unit: string, base: number, cand: number, perRound: string): { line: string; met: boolean } {
  const ratio = cand / base;
  const met = Number.isFinite(ratio) && ratio <= TARGET;
  return {
    met,
    line: `${name.padEnd(84)} baseline ${base.toFixed(2).padStart(8)} ${unit}  candidate ${cand.toFixed(2).padStart(8)} ${unit}  ratio ${ratio.toFixed(3)}  ${met ? 'MET' : 'MISSED'}\n      per round (baseline | candidate): ${perRound}`,
  };
}

// ---------------------------------------------------------------------------------------------

const baselineRev = argument('baseline') ?? process.env.BENCH_BASELINE;
if (!baselineRev) {
  console.error('usage: npm run bench:compare -- --baseline <git-rev>   (e.g. 6bb11da, the code before sealed state)');
  process.exit(2);
}
const base = prepareBaseline(baselineRev);
const candRev =
  run('git', ['rev-parse', '--short=7', 'HEAD'], '.') + (run('git', ['status', '--porcelain', '--untracked-files=no'], '.') ? ' (+ uncommitted changes)' : '');
const nodes = await runningNodes();
console.log(`qmig bench:compare — ${new Date().toISOString()}`);
console.log(
  `machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; node ${process.version}`,
);
console.log(`cluster: ${MGMT_URLS[0]} (${nodes.length} running nodes)`);
console.log(`baseline ${base.rev} (${base.root}/dist)  vs  candidate ${candRev} (./dist); ${ROUNDS} rounds, target ratio ≤ ${TARGET.toFixed(2)}`);
console.log('');

const builds: Build[] = [
  {
    label: 'baseline',
    rev: base.rev,
    root: base.root,
    store: await baselineStore(base.root),
    stateVhost: '',
    sidecar: null,
    logFd: openSync('/tmp/qmig-bench-compare-baseline.log', 'w'),
    started: new Set(),
  },
  {
    label: 'candidate',
    rev: candRev,
    root: path.resolve('.'),
    store: new MigrationStore(mgmt, benchSeal()),
    stateVhost: '',
    sidecar: null,
    logFd: openSync('/tmp/qmig-bench-compare-candidate.log', 'w'),
    started: new Set(),
  },
];
const samples: Record<Build['label'], Samples> = {
  baseline: { status: { list: [], finished: [], in_progress: [] }, checkMs: [], startMs: [], migrationMs: [] },
  candidate: { status: { list: [], finished: [], in_progress: [] }, checkMs: [], startMs: [], migrationMs: [] },
};
const vhosts: string[] = [];
let failed = false;
let cleaning: Promise<void> | null = null;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: stopping the sidecars and removing what the run created …`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  for (const b of builds) {
    b.stateVhost = await freshVhost(`cmpstate-${b.label}`);
    vhosts.push(b.stateVhost);
    b.sidecar = await startSidecarProcess(
      b.stateVhost,
      { QMIG_HOUSEKEEPING_CRON: NO_HOUSEKEEPING },
      { root: b.root, stderr: b.logFd, nodeArgs: b.label === 'candidate' && CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [] },
    );
    console.log(`${b.label} sidecar: ${b.sidecar.url} (pid ${b.sidecar.child.pid}, state vhost ${b.stateVhost})`);
  }
  const recordsVhost = await freshVhost('cmpstatus');
  vhosts.push(recordsVhost);
  const node = (await mgmt.overview()).node as string;

  const checkVhost = await freshVhost('cmpcheck');
  vhosts.push(checkVhost);
  console.log(`declaring ${CHECK_QUEUES} mirrored queues for check …`);
  const names = Array.from({ length: CHECK_QUEUES }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  await declareQueues(checkVhost, names, nodes.length);
  await waitMirrored(checkVhost, CHECK_QUEUES);
  for (const b of builds) console.log(`check warm-up, ${b.label}: ${seconds(await checkOnce(b, checkVhost))} s (not counted)`);

  console.log('start warm-up (not counted) …');
  for (const b of builds) {
    const v = await startVhost(nodes.length);
    vhosts.push(v);
    const r = await startOnce(b, v);
    console.log(`  ${b.label}: start answered in ${r.startMs.toFixed(1)} ms, migration ended after ${seconds(r.totalMs)} s`);
    await removeStarted(b, v, r.id);
  }

  for (let round = 1; round <= ROUNDS; round++) {
    const order = inOrder(builds, round);
    console.log(`round ${round}/${ROUNDS}: ${order.map((b) => b.label).join(' then ')}  (load average ${os.loadavg()[0].toFixed(2)})`);
    for (const b of order) await statusRound(b, round, recordsVhost, node, samples[b.label]);
    for (let i = 0; i < CHECK_CALLS; i++) {
      for (const b of inOrder(order, i)) {
        const ms = await checkOnce(b, checkVhost);
        samples[b.label].checkMs.push(ms);
        console.log(`  check ${b.label}: ${seconds(ms)} s`);
      }
    }
    const prepared = new Map<Build, string>();
    for (const b of order) {
      const v = await startVhost(nodes.length);
      vhosts.push(v);
      prepared.set(b, v);
    }
    for (const b of order) {
      const r = await startOnce(b, prepared.get(b)!);
      samples[b.label].startMs.push(r.startMs);
      samples[b.label].migrationMs.push(r.totalMs);
      console.log(`  start ${b.label}: 200 after ${r.startMs.toFixed(1)} ms; migration of ${START_QUEUES} queues ended after ${seconds(r.totalMs)} s`);
      await removeStarted(b, prepared.get(b)!, r.id);
    }
  }

  const [B, C] = [samples.baseline, samples.candidate];
  const lines: Array<{ line: string; met: boolean }> = [];
  const notes: string[] = [];
  const pr = (b: number[], c: number[], digits = 2) => b.map((x, i) => `${x.toFixed(digits)} | ${c[i]?.toFixed(digits)}`).join(', ');
  for (const kind of ['list', 'finished', 'in_progress'] as StatusKind[]) {
    for (const q of ['p50', 'p99'] as const) {
      const b = B.status[kind].map((r) => r[q]);
      const c = C.status[kind].map((r) => r[q]);
      lines.push(ratioLine(`${STATUS_LABEL[kind]} at ${RATE} req/s, ${q} (median of ${ROUNDS} rounds)`, 'ms', median(b), median(c), pr(b, c)));
    }
    const errors = (s: Samples) => s.status[kind].reduce((n, r) => n + r.errors, 0);
    if (errors(B) + errors(C) > 0) notes.push(`${STATUS_LABEL[kind]}: failed requests — baseline ${errors(B)}, candidate ${errors(C)}`);
  }
  const saturated = [...Object.values(B.status), ...Object.values(C.status)].flat().filter((r) => r.p50 > 1000).length;
  if (saturated > 0)
    notes.push(
      `${saturated} status phase(s) had p50 > 1 s: the machine could not serve ${RATE} req/s, so those figures measure throughput under contention, not latency (BENCH_CMP_RATE lowers the rate)`,
    );
  lines.push(
    ratioLine(
      `POST check/:vhost, ${CHECK_QUEUES} mirrored queues (median of ${B.checkMs.length} calls)`,
      'ms',
      median(B.checkMs),
      median(C.checkMs),
      pr(B.checkMs, C.checkMs, 0),
    ),
  );
  lines.push(
    ratioLine(
      `POST start/:vhost, ${START_QUEUES} mirrored queues: until the 200 answer (median of ${B.startMs.length})`,
      'ms',
      median(B.startMs),
      median(C.startMs),
      pr(B.startMs, C.startMs, 1),
    ),
  );
  console.log('');
  console.log(
    `=== bench:compare: candidate ${candRev} ÷ baseline ${base.rev}, target ≤ ${TARGET.toFixed(2)} (${os.availableParallelism()} cores, ${nodes.length}-node cluster) ===`,
  );
  for (const l of lines) console.log(l.line);
  console.log(
    `(not a target) whole migration of ${START_QUEUES} queues, POST start → completed: baseline ${seconds(median(B.migrationMs))} s, candidate ${seconds(median(C.migrationMs))} s, ratio ${(median(C.migrationMs) / median(B.migrationMs)).toFixed(3)}`,
  );
  for (const n of notes) console.log(`note: ${n}`);
  const missed = lines.filter((l) => !l.met).length;
  console.log(missed === 0 ? 'every ratio MET' : `${missed} of ${lines.length} ratios MISSED`);
  failed = missed > 0;
} catch (err) {
  console.error(`bench:compare failed: ${(err as Error).stack ?? err}`);
  failed = true;
} finally {
  await cleanUp();
}
process.exitCode = failed ? 1 : 0;

/** Sidecars stopped, every vhost and record of the run removed (once, also on Ctrl-C). */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const b of builds) await b.sidecar?.stop();
    for (const b of builds) closeSync(b.logFd);
    for (const v of vhosts) await deleteVhost(v);
    // Records of starts cut short (deleteVhost sees only sealed ones): each build's own store.
    for (const b of builds) for (const id of [...b.started]) await removeStarted(b, '', id);
  })();
  return cleaning;
}
