/**
 * A migration engine in a child process that the crash tests SIGKILL at chosen points
 * (migration-crash-child.ts), with its events read from its stdout.
 */
import { spawn } from 'node:child_process';
import { cluster } from '../support/cluster.js';
import { TEST_STATE_SECRET } from '../support/state-secret.js';

export interface ChildEvent {
  started?: string;
  hang?: string;
  at?: string;
  error?: string;
}

/**
 * Runs migration-crash-child.ts: a migration (or, with `rollbackOf`, the rollback of that
 * migration) in its own process that hangs at the named points, to be SIGKILLed there.
 */
export function spawnEngine(
  t: { after(fn: () => unknown): void },
  vhost: string,
  hang: Array<{ queue: string; at: string }>,
  rollbackOf?: string,
  /** A run over these vhosts (start-many) instead of `vhost` alone (still the state vhost). */
  vhosts?: string[],
) {
  const amqp = new URL(cluster.amqpUrls[0]);
  amqp.username = '';
  amqp.password = '';
  const env = {
    ...process.env,
    QMIG_MANAGEMENT_URL: cluster.managementUrls[0],
    QMIG_AMQP_URL: amqp.toString().replace(/\/$/, ''),
    QMIG_USER: cluster.user,
    QMIG_PASSWORD: cluster.password,
    QMIG_STATE_SECRET: TEST_STATE_SECRET,
    QMIG_STATE_VHOST: vhost,
    QMIG_RELAXED_CHECKS_WARN_ONLY: 'true',
    QMIG_MIGRATION_CONCURRENCY: String(hang.length + 1),
    QMIG_LOG_LEVEL: 'error',
    QMIG_TEST_VHOST: vhost,
    QMIG_TEST_NODE: cluster.nodeNames[0],
    QMIG_TEST_HANG: JSON.stringify(hang),
    ...(rollbackOf ? { QMIG_TEST_ROLLBACK_OF: rollbackOf } : {}),
    ...(vhosts ? { QMIG_TEST_VHOSTS: JSON.stringify(vhosts) } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/migration-crash-child.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const events: ChildEvent[] = [];
  let stderr = '';
  let buffer = '';
  child.stdout!.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.startsWith('{')) events.push(JSON.parse(line));
    }
  });
  child.stderr!.on('data', (d) => (stderr += d));
  const waitFor = async (pred: (e: ChildEvent[]) => boolean, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred(events)) {
      if (child.exitCode !== null) throw new Error(`engine process exited: ${JSON.stringify(events)}\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`engine process did not get there: ${JSON.stringify(events)}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  return { events, waitFor, kill };
}
