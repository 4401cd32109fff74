/**
 * Sidecars for integration tests, against the real test cluster:
 * - `startTestSidecar(t, …)` runs one in this process on a free port and closes it after the test;
 * - `spawnSidecar(t, …)` runs `qmig serve` as a child process (for tests that must kill one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { TestContext } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { startSidecar, type RunningSidecar, type SidecarOptions } from '../../src/sidecar.js';
import { cluster } from './cluster.js';
import { TEST_STATE_SECRET } from './state-secret.js';

type After = Pick<TestContext, 'after'> | { after(fn: () => unknown): void };

/**
 * In-process test sidecars do NOT resume orphaned migrations at start nor run scheduled
 * housekeeping unless asked (`resumeOrphansAtStart: true`, `housekeeping: true`): suites share
 * the cluster, and a sidecar of one suite must not pick up another suite's orphan.
 * `spawnSidecar` runs the production path (it does both).
 */
export interface TestSidecarOptions extends SidecarOptions {
  /** 0-based node of the test cluster whose management/AMQP listener the sidecar uses. */
  node?: number;
  /** Extra QMIG_* variables (override the defaults below). */
  env?: Record<string, string>;
}

/** The environment of a sidecar beside node `node` of the test cluster, on a free port. */
export function sidecarEnv(node = 0, env: Record<string, string> = {}): Record<string, string> {
  const amqp = new URL(cluster.amqpUrls[node]);
  amqp.username = '';
  amqp.password = '';
  return {
    QMIG_LISTEN_HOST: '127.0.0.1',
    QMIG_LISTEN_PORT: '0',
    QMIG_MANAGEMENT_URL: cluster.managementUrls[node],
    QMIG_AMQP_URL: amqp.toString().replace(/\/$/, ''),
    QMIG_USER: cluster.user,
    QMIG_PASSWORD: cluster.password,
    QMIG_LOG_LEVEL: process.env.QMIG_LOG_LEVEL ?? 'error',
    QMIG_STATE_SECRET: TEST_STATE_SECRET,
    // Starts do not run the plan's calibration probe (10 s) unless a test asks for it (plan.test.ts).
    QMIG_PLAN_ESTIMATE_AT_START: 'false',
    ...env,
  };
}

export interface TestSidecar extends RunningSidecar {
  /** fetch() relative to the sidecar with guest's (or the given) Basic credentials. */
  api(path: string, init?: RequestInit & { auth?: { user: string; password: string } | null }): Promise<Response>;
}

export function basicAuth(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

export async function startTestSidecar(t: After, opts: TestSidecarOptions = {}): Promise<TestSidecar> {
  const { node = 0, env = {}, ...sidecarOptions } = opts;
  // QMIG_LISTEN_PORT=0 (any free port) is a test-only value that loadConfig would refuse.
  const fullEnv = sidecarEnv(node, env);
  const port = fullEnv.QMIG_LISTEN_PORT;
  const config = loadConfig({ ...fullEnv, QMIG_LISTEN_PORT: port === '0' ? '1' : port });
  if (port === '0') config.listenPort = 0;
  const sidecar = await startSidecar(config, { brokerWaitMs: 1000, resumeOrphansAtStart: false, housekeeping: false, ...sidecarOptions });
  t.after(() => sidecar.close());
  const api: TestSidecar['api'] = (path, init = {}) => {
    const { auth = { user: cluster.user, password: cluster.password }, headers, ...rest } = init;
    const h = new Headers(headers);
    if (auth) h.set('authorization', basicAuth(auth.user, auth.password));
    return fetch(sidecar.url + path, { ...rest, headers: h });
  };
  return { ...sidecar, api };
}

export interface SpawnedSidecar {
  url: string;
  process: ChildProcess;
  /** Output so far (stdout + stderr). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
}

/**
 * Runs `node --import tsx src/cli/main.ts serve` with the sidecar environment of `node`.
 * Resolves once the sidecar answers /healthz (or rejects with its output if it exits first).
 * `waitForListening: false` resolves at once (for processes expected to fail).
 */
export async function spawnSidecar(
  t: After,
  opts: { node?: number; env?: Record<string, string>; waitForListening?: boolean; args?: string[]; startTimeoutMs?: number } = {},
): Promise<SpawnedSidecar> {
  const env = { ...process.env, ...sidecarEnv(opts.node ?? 0, { QMIG_LOG_LEVEL: 'info', QMIG_LISTEN_PORT: String(await freePort()), ...opts.env }) };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...(opts.args ?? ['serve'])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  t.after(() => kill('SIGKILL'));
  if (opts.waitForListening === false) return { url: '', process: child, output: () => output, kill, exited };
  const url = `http://127.0.0.1:${env.QMIG_LISTEN_PORT}`;
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`sidecar exited (${exitCode}) before listening:\n${output}`);
    if (Date.now() > deadline) throw new Error(`sidecar did not start in ${startTimeoutMs / 1000} s:\n${output}`);
    try {
      const res = await fetch(url + '/healthz');
      await res.arrayBuffer();
      break; // listening (200, or 503 when its broker is down)
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, process: child, output: () => output, kill, exited };
}

/** A TCP port that was free a moment ago (for child processes, whose config refuses port 0). */
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
