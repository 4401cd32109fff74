/**
 * The cluster a transfer moves queues to, reached with the TARGET's credentials (never the
 * sidecar's service account):
 * - its management API (the URL the caller gave: the target's management listener, or a qmig
 *   sidecar, which proxies every non-qmig /api path to its broker);
 * - its AMQP listener, discovered from the target's `/api/overview` `listeners`; the shovels,
 *   which run inside the SOURCE broker, deliver there (`amqp://user:pass@host:port/<vhost>`, or
 *   for a target given as https:// its amqps listener, with verified TLS options: shovel-tls.ts) as
 *   a temporary least-privilege user (shovel-user.ts), never with the target credentials.
 *
 * `connectTarget` is the validation of a transfer request against the target: reachable, the
 * credentials accepted (by the management API and by the AMQP listener), the user an
 * administrator there, and not this very cluster. Every refusal is a BadRequestError whose
 * reason names the target (without credentials) and what it answered.
 */
import { AmqpPool } from '../broker/amqp.js';
import { ManagementClient, reasonOf, tagsOf, type Whoami } from '../broker/management-client.js';
import type { Context } from '../context.js';
import { brokerTlsFiles, type ClientTlsFiles } from '../broker/tls-options.js';
import { BadRequestError, BrokerError, BrokerRequestError, BrokerUnavailableError } from '../errors.js';
import type { ShovelUser } from './shovel-user.js';
import { shovelTlsProblem, shovelTlsQuery } from './shovel-tls.js';

export interface AmqpListener {
  node?: string;
  protocol: string;
  ip_address: string;
  port: number;
}

export interface AmqpEndpoint {
  protocol: 'amqp' | 'amqps';
  host: string;
  port: number;
}

export interface ClusterIdentity {
  clusterName: string;
  /** The `internal_cluster_id` global parameter; null when it cannot be read. */
  clusterId: string | null;
}

const WILDCARD = new Set(['::', '0.0.0.0', '::0', '0:0:0:0:0:0:0:0']);
const isLoopback = (ip: string) => /^127\./.test(ip) || ip === '::1' || ip === 'localhost';

/**
 * Which AMQP listener of the target the shovels deliver to. A target given as https:// gets
 * `amqp/ssl` when it has one (TLS end to end), otherwise plain `amqp` is preferred and `amqp/ssl`
 * used when it is the only one. A wildcard or loopback bind address is replaced by the host of the
 * target URL (the address the caller reaches the target at).
 */
export function pickAmqpEndpoint(listeners: AmqpListener[], targetUrl: string, preferNode?: string): AmqpEndpoint | null {
  const byProtocol = (p: string) => listeners.filter((l) => l.protocol === p && Number.isInteger(l.port));
  const plain = byProtocol('amqp');
  const tls = byProtocol('amqp/ssl');
  const wantTls = new URL(targetUrl).protocol === 'https:' && tls.length > 0;
  const candidates = wantTls ? tls : plain.length > 0 ? plain : tls;
  if (candidates.length === 0) return null;
  const chosen = candidates.find((l) => preferNode && l.node === preferNode) ?? candidates[0];
  const urlHost = new URL(targetUrl).hostname.replace(/^\[|\]$/g, '');
  const ip = String(chosen.ip_address ?? '');
  const host = ip === '' || WILDCARD.has(ip) || isLoopback(ip) ? urlHost : ip;
  return { protocol: chosen.protocol === 'amqp' ? 'amqp' : 'amqps', host, port: chosen.port };
}

/**
 * The AMQP URI of `vhost` on the endpoint. With credentials it is a secret (it goes only into
 * the shovel's dest-uri); without, it is what records and logs show. The vhost is always the
 * percent-encoded path (`/` → `/%2F`), as the shovel plugin expects. `query` (with its `?`) carries
 * an amqps shovel's TLS options (shovel-tls.ts).
 */
export function buildAmqpUri(endpoint: AmqpEndpoint, vhost: string, credentials?: { user: string; password: string }, query = ''): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
  return `${endpoint.protocol}://${auth}${host}:${endpoint.port}/${encodeURIComponent(vhost)}${query}`;
}

/**
 * Why source and target are the same cluster, or null. Either the same `cluster_name` or the same
 * `internal_cluster_id` (when both could be read) counts: moving a queue onto itself would
 * shovel messages in a circle and, with remove_source_queue, delete them.
 */
export function sameClusterReason(source: ClusterIdentity, target: ClusterIdentity): string | null {
  if (source.clusterId && target.clusterId && source.clusterId === target.clusterId) {
    return `target is this same cluster (internal_cluster_id ${target.clusterId})`;
  }
  if (source.clusterName === target.clusterName) {
    return `target is this same cluster (cluster_name '${target.clusterName}'); if it really is another cluster, give it another cluster_name`;
  }
  return null;
}

export async function clusterIdentity(mgmt: ManagementClient, overview?: Record<string, unknown>): Promise<ClusterIdentity> {
  const ov = overview ?? (await mgmt.overview());
  let clusterId: string | null = null;
  try {
    const p = await mgmt.globalParameter<string>('internal_cluster_id');
    clusterId = p && typeof p.value === 'string' ? p.value : null;
  } catch {
    clusterId = null; // not readable with these credentials: cluster_name alone decides
  }
  return { clusterName: String(ov.cluster_name ?? ''), clusterId };
}

export class TargetCluster {
  private pool: AmqpPool | null = null;

  constructor(
    readonly url: string,
    readonly user: string,
    private readonly password: string,
    readonly mgmt: ManagementClient,
    readonly identity: ClusterIdentity,
    readonly endpoint: AmqpEndpoint,
    /** Tags of the target user on the target. */
    readonly tags: string[],
    private readonly tls: ClientTlsFiles,
    /** TLS options of the shovels' URI to an amqps endpoint ('' for amqp). */
    private readonly shovelQuery = '',
  ) {}

  private shovelUser: ShovelUser | null = null;

  /** The temporary user the shovels log in with (shovel-user.ts). */
  useShovelUser(user: ShovelUser): void {
    this.shovelUser = user;
  }

  /**
   * For the shovel's dest-uri only: carries the temporary shovel user's credentials — never the
   * caller's target administrator password, which any policymaker of the source vhost could read.
   */
  secretAmqpUri(vhost: string): string {
    if (!this.shovelUser) throw new Error('no temporary shovel user on the target yet');
    return buildAmqpUri(this.endpoint, vhost, { user: this.shovelUser.user, password: this.shovelUser.password }, this.shovelQuery);
  }

  publicAmqpUri(vhost: string): string {
    return buildAmqpUri(this.endpoint, vhost);
  }

  /** AMQP connections to the target with the target credentials (exact counts). */
  get amqp(): AmqpPool {
    if (!this.pool) {
      this.pool = new AmqpPool({
        url: `${this.endpoint.protocol}://${this.endpoint.host.includes(':') ? `[${this.endpoint.host}]` : this.endpoint.host}:${this.endpoint.port}`,
        user: this.user,
        password: this.password,
        ...this.tls,
        connectionName: 'qmig xfer',
      });
    }
    return this.pool;
  }

  /** Exact ready count of a queue on the target (null when it does not exist). */
  messageCount(vhost: string, queue: string): Promise<number | null> {
    return this.amqp.messageCount(vhost, queue);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }
}

function refusal(url: string, what: string): BadRequestError {
  return new BadRequestError(`target ${url}: ${what}`);
}

/** GET on the target's management API, every failure turned into a 400 that names the target. */
async function targetGet<T>(mgmt: ManagementClient, url: string, path: string): Promise<T> {
  let res;
  try {
    res = await mgmt.request<T>('GET', path);
  } catch (err) {
    if (err instanceof BrokerUnavailableError) throw refusal(url, `unreachable (${err.reason.replace(/^management API at \S+ unreachable: /, '')})`);
    if (err instanceof BrokerError) throw refusal(url, `answered with a server error: ${err.reason}`);
    throw err;
  }
  if (res.status === 401) throw refusal(url, `target rejected the credentials given in target_user/target_password (401: ${reasonOf(res.data)})`);
  if (res.status === 403) throw refusal(url, `target refused ${path} for the given user (403: ${reasonOf(res.data)})`);
  if (res.status === 404) throw refusal(url, `no RabbitMQ management API at ${url}/api (404 for ${path})`);
  if (res.status >= 400) throw refusal(url, `answered ${res.status} to ${path}: ${reasonOf(res.data)}`);
  return res.data;
}

/**
 * Validates the target and returns a handle on it. `sourceMgmt` is the sidecar's own cluster
 * (service account), used for the same-cluster comparison.
 */
export async function connectTarget(
  ctx: Pick<Context, 'config' | 'mgmt'>,
  request: { target: string; targetUser: string; targetPassword: string; vhost: string },
): Promise<TargetCluster> {
  const url = request.target;
  const tls = brokerTlsFiles(ctx.config);
  const mgmt = new ManagementClient({
    baseUrl: url,
    user: request.targetUser,
    password: request.targetPassword,
    ...tls,
    timeoutMs: ctx.config.brokerTimeoutMs,
  });

  const overview = await targetGet<Record<string, unknown>>(mgmt, url, '/overview');
  if (!overview || typeof overview !== 'object' || typeof overview.cluster_name !== 'string' || !Array.isArray(overview.listeners)) {
    throw refusal(url, 'does not answer like a RabbitMQ management API (no cluster_name/listeners in /api/overview)');
  }
  const whoami = await targetGet<Whoami>(mgmt, url, '/whoami');
  if (!tagsOf(whoami).includes('administrator')) {
    throw refusal(
      url,
      `target user '${request.targetUser}' needs the administrator tag on the target (it creates vhosts, exchanges, queues and bindings there)`,
    );
  }

  const source = await clusterIdentity(ctx.mgmt);
  const target = await clusterIdentity(mgmt, overview);
  const same = sameClusterReason(source, target);
  if (same) throw refusal(url, same);

  const endpoint = pickAmqpEndpoint(overview.listeners as AmqpListener[], url, typeof overview.node === 'string' ? overview.node : undefined);
  if (!endpoint) throw refusal(url, 'has no AMQP listener (none in /api/overview listeners)');

  let shovelQuery = '';
  if (endpoint.protocol === 'amqps') {
    const problem = await shovelTlsProblem(ctx.config, endpoint);
    if (problem) throw refusal(url, `the shovels cannot verify the AMQPS listener: ${problem}`);
    shovelQuery = shovelTlsQuery(ctx.config, endpoint);
  }
  const handle = new TargetCluster(url, request.targetUser, request.targetPassword, mgmt, target, endpoint, tagsOf(whoami), tls, shovelQuery);

  // The vhost on the target: if it exists, the target user must have permissions in it (qmig
  // does not change permissions on an existing target vhost); if not, the transfer creates it.
  const vhost = await mgmt.vhost(request.vhost).catch((err) => {
    throw err instanceof BrokerRequestError ? refusal(url, `cannot read vhost '${request.vhost}': ${err.brokerReason}`) : err;
  });
  if (vhost) {
    const p = await mgmt.permission(request.vhost, request.targetUser).catch(() => null);
    if (!p || !p.configure || !p.write || !p.read) {
      throw refusal(url, `target user '${request.targetUser}' needs configure, write and read permission on vhost '${request.vhost}' of the target`);
    }
  }
  // Probe AMQP in a vhost the user may open (a refused vhost still proves listener and credentials).
  let probeVhost = request.vhost;
  if (!vhost) {
    const permissions = await mgmt.userPermissions(request.targetUser).catch(() => []);
    probeVhost = permissions[0]?.vhost ?? '/';
  }
  await probeAmqp(handle, probeVhost);
  return handle;
}

/** The AMQP listener answers and accepts the credentials (a vhost refusal still proves both). */
async function probeAmqp(target: TargetCluster, vhost: string): Promise<void> {
  const where = `AMQP listener ${target.publicAmqpUri(vhost).replace(/\/[^/]*$/, '')}`;
  try {
    const conn = await target.amqp.openConnection(vhost, 'probe');
    await conn.close().catch(() => undefined);
  } catch (err) {
    const message = String((err as Error).message ?? err);
    // Credentials are checked before the vhost: a close answering connection.open means the
    // listener accepted them and only refused the vhost.
    if (/access to vhost|NOT_ALLOWED|Expected ConnectionOpenOk/i.test(message)) return;
    if (/ACCESS_REFUSED|403/i.test(message)) throw refusal(target.url, `${where} rejected the credentials given in target_user/target_password`);
    throw refusal(target.url, `${where} is unreachable: ${message.replace(/^AMQP connection to vhost '[^']*' failed: /, '')}`);
  } finally {
    await target.close();
  }
}
