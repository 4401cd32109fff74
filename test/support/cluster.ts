/**
 * The real test cluster started by scripts/test.sh (see scripts/cluster.sh). Tests read its
 * URLs from the environment that script exports; nothing here starts or stops nodes.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ManagementClient } from '../../src/broker/management-client.js';

const run = promisify(execFile);

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests with \`npm test\` (scripts/test.sh starts the cluster)`);
  return v;
}

export const cluster = {
  get name(): string {
    return required('QMIG_CLUSTER_NAME');
  },
  get managementUrls(): string[] {
    return required('QMIG_CLUSTER_MGMT_URLS').split(',');
  },
  get amqpUrls(): string[] {
    return required('QMIG_CLUSTER_AMQP_URLS').split(',');
  },
  /** Node names in index order: node i (0-based) is `${name}${i+1}@localhost`. */
  get nodeNames(): string[] {
    return this.managementUrls.map((_, i) => `${this.name}${i + 1}@localhost`);
  },
  user: 'guest',
  password: 'guest',
};

/** Admin management client of node `i` (0-based). */
export function admin(i = 0): ManagementClient {
  return new ManagementClient({ baseUrl: cluster.managementUrls[i], user: cluster.user, password: cluster.password });
}

/** AMQP URL of node `i` for `vhost`, with credentials. */
export function amqpUrl(vhost: string, i = 0, user = cluster.user, password = cluster.password): string {
  const u = new URL(cluster.amqpUrls[i]);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  u.pathname = '/' + encodeURIComponent(vhost);
  return u.toString();
}

/** rabbitmqctl against node `i` (0-based) of the test cluster. */
export async function rabbitmqctl(i: number, ...args: string[]): Promise<string> {
  const offset = Number(new URL(cluster.managementUrls[0]).port) - 15672;
  const { stdout } = await run(
    'bash',
    [
      'scripts/cluster.sh',
      'ctl',
      '--name',
      cluster.name,
      '--offset',
      String(offset),
      '--nodes',
      String(cluster.managementUrls.length),
      '--node',
      String(i + 1),
      '--',
      ...args,
    ],
    {
      timeout: 120_000,
    },
  );
  return stdout;
}

/**
 * RabbitMQ 3.10's management agent can crash on a node (`rabbit_net:dist_info` case_clause when
 * a node briefly has two distribution ports to a peer, e.g. around CLI calls and node restarts);
 * its supervisor then gives up and that node stops reporting statistics (`mem_used`, queue
 * fields such as `effective_policy_definition` go missing) until the agent is started again.
 * This is a broker bug, not qmig's: tests that wait on statistics call this to repair it.
 * Returns the nodes it restarted the agent on.
 */
export async function repairNodeStatistics(): Promise<string[]> {
  const nodes = await admin().nodes();
  const silent = nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.running && n.mem_used == null);
  const repaired: string[] = [];
  for (const { n, i } of silent) {
    await rabbitmqctl(i, 'eval', 'rabbit_mgmt_agent_sup_sup:start_child().').catch(() => undefined);
    repaired.push(n.name);
  }
  return repaired;
}

/**
 * RabbitMQ 3.10.8's shovel plugin can exit on a node that stays up while another node stops:
 * `rabbit_shovel_status` crashes (`noproc` calling `which_children` on the stopped node's member of
 * the dynamic shovels' mirrored supervisor) until its supervisor gives up, and the application
 * `rabbitmq_shovel` exits there (broker log: "Application rabbitmq_shovel exited with reason:
 * shutdown"; seen here once in about eight `stop_app`s). Dynamic shovels placed on that node then
 * never start, and qmig's start check refuses to run. A broker bug, not qmig's: tests that stop
 * nodes call this to start the application again. Returns the nodes it started it on.
 */
export async function repairShovelPlugin(): Promise<string[]> {
  const nodes = await admin().ok<Array<{ name: string; running: boolean; applications?: Array<{ name: string }> }>>('GET', '/nodes');
  const repaired: string[] = [];
  for (const [i, n] of nodes.entries()) {
    const apps = n.applications?.map((a) => a.name);
    if (!n.running || !apps?.includes('rabbit') || apps.includes('rabbitmq_shovel')) continue;
    await rabbitmqctl(i, 'eval', '{application:ensure_all_started(rabbitmq_shovel), application:ensure_all_started(rabbitmq_shovel_management)}.').catch(
      () => undefined,
    );
    repaired.push(n.name);
  }
  return repaired;
}
