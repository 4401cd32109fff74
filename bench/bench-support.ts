/**
 * What the benchmark parts of `npm run bench:all` (bench/all.ts) share: the cluster (from the same
 * variables as the tests: QMIG_CLUSTER_MGMT_URLS / QMIG_CLUSTER_AMQP_URLS / QMIG_CLUSTER_NAME,
 * default the local `test` cluster), fresh vhosts, fast publishing, a sidecar in its own process
 * (`node dist/cli/main.js serve`, the production build) with its memory sampled from /proc, its
 * HTTP API, and the open-loop load client (bench/load-client.ts) run as another process.
 */
import amqplib from 'amqplib';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { enc, ManagementClient } from '../src/broker/management-client.js';
import { MigrationStore } from '../src/state/migration-store.js';
import { StateSeal } from '../src/state/state-seal.js';

export const MGMT_URLS = (process.env.QMIG_CLUSTER_MGMT_URLS ?? 'http://127.0.0.1:16672,http://127.0.0.1:16673,http://127.0.0.1:16674').split(',');
export const AMQP_URLS = (process.env.QMIG_CLUSTER_AMQP_URLS ?? 'amqp://127.0.0.1:6672,amqp://127.0.0.1:6673,amqp://127.0.0.1:6674').split(',');
export const USER = process.env.QMIG_USER ?? 'guest';
export const PASSWORD = process.env.QMIG_PASSWORD ?? 'guest';
/** The key the bench's sidecars seal their state with (and the bench's own record writes). */
export const STATE_SECRET = process.env.QMIG_STATE_SECRET ?? 'qmig-bench-state-secret-for-local-runs-only';
export const benchSeal = () => new StateSeal(STATE_SECRET);
export const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

export const mgmt = new ManagementClient({ baseUrl: MGMT_URLS[0], user: USER, password: PASSWORD, timeoutMs: 120_000 });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const seconds = (ms: number) => (ms / 1000).toFixed(2);

export function amqpUrl(vhost: string, i = 0): string {
  const u = new URL(AMQP_URLS[i % AMQP_URLS.length]);
  u.username = encodeURIComponent(USER);
  u.password = encodeURIComponent(PASSWORD);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

export async function runningNodes(): Promise<string[]> {
  return (await mgmt.nodes())
    .filter((n) => n.running)
    .map((n) => n.name)
    .sort();
}

/** A fresh vhost whose `^bench` queues are mirrored (exactly 2, automatic sync), like NOTES.md's measurements. */
export async function freshVhost(label: string): Promise<string> {
  const vhost = `qmig-bench-${label}-${randomBytes(3).toString('hex')}`;
  await mgmt.putVhost(vhost);
  await mgmt.setPermission(vhost, USER, { configure: '.*', write: '.*', read: '.*' });
  await mgmt.ok('PUT', `/policies/${enc(vhost)}/ha`, {
    pattern: '^bench',
    definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic' },
    'apply-to': 'queues',
    priority: 0,
  });
  return vhost;
}

/** Removes the vhost and the migration records of it (records are cluster-wide global parameters). */
export async function deleteVhost(vhost: string): Promise<void> {
  await mgmt.deleteIfExists(`/vhosts/${enc(vhost)}`).catch((err) => console.error(`cannot delete ${vhost}: ${(err as Error).message}`));
  const store = new MigrationStore(mgmt, benchSeal());
  for (const r of await store.listRecords().catch(() => [])) {
    if (r.vhost === vhost) await store.delete(r).catch((err) => console.error(`cannot delete record ${r.id}: ${(err as Error).message}`));
  }
}

/** Declares durable classic queues over AMQP (fast), masters spread over `nodes` by connecting to each. */
export async function declareQueues(vhost: string, names: string[], nodeCount: number): Promise<void> {
  const conns = await Promise.all(Array.from({ length: nodeCount }, (_, i) => amqplib.connect(amqpUrl(vhost, i))));
  try {
    const chans = await Promise.all(conns.map((c) => c.createChannel()));
    // Classic queues get their master on the node the declaring connection is on (client-local).
    for (let i = 0; i < names.length; i += 200) {
      await Promise.all(names.slice(i, i + 200).map((n, k) => chans[(i + k) % chans.length].assertQueue(n, { durable: true })));
    }
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
  }
}

/** Publishes `body` `count` times to each queue (persistent, confirms). */
export async function publishTo(vhost: string, counts: Map<string, number>, body: Buffer): Promise<void> {
  const conn = await amqplib.connect(amqpUrl(vhost, 0));
  try {
    const ch = await conn.createConfirmChannel();
    let sent = 0;
    for (const [queue, n] of counts) {
      for (let i = 0; i < n; i++) {
        if (!ch.sendToQueue(queue, body, { persistent: true })) await new Promise((r) => ch.once('drain', r));
        if (++sent % 10_000 === 0) await ch.waitForConfirms();
      }
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Until every queue of the vhost shows its policy and (when mirrored) synchronised mirrors. */
export async function waitMirrored(vhost: string, expected: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const qs = await mgmt.queues(vhost, ['name', 'slave_nodes', 'synchronised_slave_nodes', 'effective_policy_definition']);
    const ready = qs.filter(
      (q) => q.effective_policy_definition && (q.slave_nodes?.length ?? 0) > 0 && (q.synchronised_slave_nodes?.length ?? 0) >= (q.slave_nodes?.length ?? 0),
    );
    if (qs.length >= expected && ready.length >= expected) return;
    if (Date.now() > deadline) throw new Error(`${vhost}: only ${ready.length} of ${expected} queues mirrored and synchronised`);
    await sleep(1000);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Memory {
  rssKb: number;
  hwmKb: number;
}

/** VmRSS and VmHWM (peak resident set) of a process, from /proc. */
export function memoryOf(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks at 100 Hz). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Pids of the broker nodes of the local cluster (beam.smp processes whose data is under qmig-clusters/<name>/). */
export function brokerPids(): number[] {
  const name = process.env.QMIG_CLUSTER_NAME ?? 'test';
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('beam.smp') && cmd.includes(`qmig-clusters/${name}/`)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export interface SidecarProcess {
  url: string;
  child: ChildProcess;
  /** Highest VmRSS seen by the 100 ms sampler, and the kernel's VmHWM. */
  peak(): Memory;
  stop(): Promise<void>;
}

/** The node options the image runs the sidecar with (Dockerfile `ENV NODE_OPTIONS=…`). */
export function imageNodeOptions(): string {
  return /^\s*NODE_OPTIONS=(\S+)/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1] ?? '';
}

export interface SidecarProcessOptions {
  /** Checkout whose build is run (default: this one); its dist/ must exist. */
  root?: string;
  /** Where the sidecar's stderr (its log) goes: a file descriptor, or the bench's own stderr. */
  stderr?: number | 'inherit';
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

/**
 * `qmig serve` from the production build (dist/, built by `npm run bench:all`), beside node 1,
 * with its state vhost `stateVhost`. Resolves when /healthz answers.
 */
export async function startSidecarProcess(stateVhost: string, env: Record<string, string> = {}, opts: SidecarProcessOptions = {}): Promise<SidecarProcess> {
  const root = opts.root ?? '.';
  const main = `${root}/dist/cli/main.js`;
  if (opts.root !== undefined && !existsSync(main)) throw new Error(`${main} does not exist: build ${root} first`);
  const entry = existsSync(main) ? [main] : ['--import', 'tsx', 'src/cli/main.ts'];
  const port = await freePort();
  const amqp = new URL(AMQP_URLS[0]);
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry, 'serve'], {
    env: {
      ...process.env,
      // Measured as deployed: the image's node options, unless the caller set its own.
      NODE_OPTIONS: process.env.NODE_OPTIONS ?? imageNodeOptions(),
      QMIG_LISTEN_HOST: '127.0.0.1',
      QMIG_LISTEN_PORT: String(port),
      QMIG_MANAGEMENT_URL: MGMT_URLS[0],
      QMIG_AMQP_URL: `amqp://${amqp.host}`,
      QMIG_USER: USER,
      QMIG_PASSWORD: PASSWORD,
      QMIG_STATE_VHOST: stateVhost,
      QMIG_STATE_SECRET: STATE_SECRET,
      // 3.10.8 has no relaxed-redeclaration setting (NOTES.md): the check would refuse every start.
      QMIG_RELAXED_CHECKS_WARN_ONLY: 'true',
      QMIG_LOG_LEVEL: process.env.QMIG_LOG_LEVEL ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', opts.stderr ?? 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  let peakRss = 0;
  const sampler = setInterval(() => {
    const m = memoryOf(child.pid!);
    if (m && m.rssKb > peakRss) peakRss = m.rssKb;
  }, 100);
  let lastHwm = 0;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the sidecar exited at start');
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('the sidecar did not start in 30 s');
    await sleep(100);
  }
  return {
    url,
    child,
    peak: () => {
      const m = memoryOf(child.pid!);
      if (m) lastHwm = m.hwmKb;
      return { rssKb: Math.max(peakRss, m?.rssKb ?? 0), hwmKb: lastHwm };
    },
    stop: async () => {
      clearInterval(sampler);
      const m = memoryOf(child.pid!);
      if (m) lastHwm = m.hwmKb;
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

export async function api(url: string, method: 'GET' | 'POST', body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method,
    headers: { authorization: AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const FINAL = ['completed', 'failed', 'interrupted', 'rollback_pending', 'rollback_completed'];

/** POST start/:vhost, then polls status/:id every 50 ms; ms from the request to the final status seen. */
export async function migrateThroughSidecar(
  sidecarUrl: string,
  vhost: string,
  body: Record<string, unknown> = {},
): Promise<{ ms: number; id: string; status: string; completed: number; error: string | null; downtime: string }> {
  const t0 = performance.now();
  const started = await api(`${sidecarUrl}/api/queue-migration/start/${encodeURIComponent(vhost)}`, 'POST', body);
  if (started.status !== 200) throw new Error(`start refused (${started.status}): ${JSON.stringify(started.body)}`);
  const id: string = started.body.migration_id;
  // The end is watched on the migration list (one record per migration, no queues), every 50 ms:
  // the detail of a 500-queue run at that rate cost the sidecar several CPU-seconds per run,
  // taken from the broker on a 2-core machine; an operator's screen asks for it every second or so.
  for (;;) {
    const list = await api(`${sidecarUrl}/api/queue-migration/status`, 'GET');
    const mine = list.status === 200 ? (list.body.migrations as Array<{ id: string; status: string }>).find((m) => m.id === id) : undefined;
    if (!mine || !FINAL.includes(mine.status)) {
      await sleep(50);
      continue;
    }
    const ms = performance.now() - t0;
    const s = await api(`${sidecarUrl}/api/queue-migration/status/${encodeURIComponent(id)}`, 'GET');
    if (s.status === 200) {
      return {
        ms,
        id,
        status: s.body.migration.status,
        completed: s.body.migration.completed_queues,
        error: s.body.migration.error,
        downtime: downtimeLine(s.body),
      };
    }
    throw new Error(`status/${id} answered ${s.status} after the migration ended`);
  }
}

/**
 * Client downtime of a run as its status shows it (issue 20): how long each vhost's clients were
 * fenced, and per queue how long its messages were out of its consumers' reach (median, p90, max).
 */
export function downtimeLine(detail: { migration: { fenced_seconds?: Record<string, number> }; queues: { unavailable_seconds?: number }[] }): string {
  const fenced = Object.values(detail.migration.fenced_seconds ?? {});
  const u = detail.queues
    .map((q) => q.unavailable_seconds)
    .filter((x): x is number => typeof x === 'number')
    .sort((a, b) => a - b);
  const at = (p: number) => (u.length ? u[Math.min(u.length - 1, Math.floor(p * u.length))].toFixed(2) : '-');
  return `client downtime: clients fenced ${fenced.length ? fenced.map((x) => `${x.toFixed(1)} s`).join(' + ') : 'never (QMIG_FENCE_CLIENTS=false)'}; per queue out of reach: median ${at(0.5)} s, p90 ${at(0.9)} s, max ${u.length ? u[u.length - 1].toFixed(2) : '-'} s (${u.length} queues)`;
}

/** A sidecar's management API requests so far by "METHOD endpoint" (its qmig_broker_request_duration_seconds counts). */
export function managementCallCounts(metricsText: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const m of metricsText.matchAll(/^qmig_broker_request_duration_seconds_count\{([^}]*)\} (\d+)/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.method} ${labels.endpoint}`;
    calls.set(key, (calls.get(key) ?? 0) + Number(m[2]));
  }
  return calls;
}

export interface LoadResult {
  label: string;
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  bytes: number;
}

/**
 * Runs bench/load-client.ts in its own process (its own event loop, apart from the sidecar and
 * from this process): `rate` GETs per second on `url` for `seconds` (open loop; latency counted
 * from each request's scheduled time), after `warmup` seconds that are not counted.
 */
export function runLoad(label: string, url: string, rate: number, secondsToRun: number, warmup = 2, auth = AUTH): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-client.ts'], {
      env: { ...process.env, LOAD_URL: url, LOAD_RATE: String(rate), LOAD_SECONDS: String(secondsToRun), LOAD_WARMUP: String(warmup), LOAD_AUTH: auth },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`load client exited ${code}: ${out}`));
      try {
        resolve({ label, ...JSON.parse(out.trim().split('\n').pop()!) });
      } catch (err) {
        reject(err);
      }
    });
  });
}
