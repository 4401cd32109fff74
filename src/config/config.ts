/**
 * Configuration from environment variables. Every variable is declared once in VARIABLES with
 * its default and description; `loadConfig` validates all of them and fails fast with a
 * ConfigError that names the offending variable. The README's configuration table is the same
 * list (`qmig config --markdown` prints it).
 */
import { readFileSync } from 'node:fs';
import nodeCron from 'node-cron';

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Parser<T> = (raw: string, name: string) => T;

interface Variable<T> {
  name: string;
  default: string | undefined;
  description: string;
  parse: Parser<T>;
  secret?: boolean;
}

function variable<T>(name: string, def: string | undefined, description: string, parse: Parser<T>, secret = false): Variable<T> {
  return { name, default: def, description, parse, secret };
}

const port: Parser<number> = (raw, name) => {
  const n = integer(raw, name);
  if (n < 1 || n > 65535) throw new ConfigError(name, `must be a TCP port 1-65535, got "${raw}"`);
  return n;
};

function integer(raw: string, name: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  return Number(raw.trim());
}

const positiveInt = (min: number, max: number): Parser<number> => (raw, name) => {
  const n = integer(raw, name);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got "${raw}"`);
  return n;
};

const positiveNumber = (min: number, max: number): Parser<number> => (raw, name) => {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(name, `must be a number, got "${raw}"`);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got "${raw}"`);
  return n;
};

const oneOf = <T extends string>(...values: T[]): Parser<T> => (raw, name) => {
  if (!(values as string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
};

const text: Parser<string> = (raw, name) => {
  if (raw.length === 0) throw new ConfigError(name, 'must not be empty');
  return raw;
};

const optionalText: Parser<string | undefined> = (raw) => (raw === '' ? undefined : raw);

const bool: Parser<boolean> = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
};

const url = (...protocols: string[]): Parser<URL> => (raw, name) => {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL, got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.map((p) => p.replace(':', '')).join(' or ')}, got "${parsed.protocol.replace(':', '')}"`);
  }
  return parsed;
};

const urlList: Parser<URL[]> = (raw, name) =>
  raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => url('http:', 'https:')(s, name));

const hostName: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(raw)) {
    throw new ConfigError(name, `must be a DNS name (letters, digits, '-' and '.'), got "${raw}"`);
  }
  return raw;
};

const readableFile: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  try {
    readFileSync(raw);
  } catch (err) {
    throw new ConfigError(name, `cannot read file "${raw}": ${(err as Error).message}`);
  }
  return raw;
};

/** Validated by node-cron itself (the scheduler that runs it): field count AND field ranges. */
const cron: Parser<string> = (raw, name) => {
  const fields = raw.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) throw new ConfigError(name, `must be a cron expression of 5 or 6 fields, got "${raw}"`);
  if (!nodeCron.validate(raw.trim())) throw new ConfigError(name, `is not a valid cron expression (a field is out of range or malformed), got "${raw}"`);
  return raw.trim();
};

export const VARIABLES = {
  listenPort: variable('QMIG_LISTEN_PORT', '15680', 'Port the sidecar listens on.', port),
  listenHost: variable('QMIG_LISTEN_HOST', '127.0.0.1', 'Address the sidecar binds; 0.0.0.0 in a pod.', text),
  managementUrl: variable('QMIG_MANAGEMENT_URL', 'http://127.0.0.1:15672', "The node's management API (http or https).", url('http:', 'https:')),
  amqpUrl: variable('QMIG_AMQP_URL', 'amqp://127.0.0.1:5672', "The node's AMQP listener (amqp or amqps); credentials come from QMIG_USER/QMIG_PASSWORD.", url('amqp:', 'amqps:')),
  user: variable('QMIG_USER', 'guest', 'Service account the sidecar drives the broker with (needs the administrator tag).', text),
  password: variable('QMIG_PASSWORD', 'guest', 'Password of QMIG_USER. Never logged.', text, true),
  caFile: variable('QMIG_CA_FILE', '', 'PEM CA bundle for https/amqps to the broker (empty: system CAs).', readableFile),
  tlsInsecure: variable('QMIG_TLS_INSECURE', 'false', 'Skip TLS certificate verification to the broker (tests only).', bool),
  logLevel: variable('QMIG_LOG_LEVEL', 'info', 'error, warn, info, debug.', oneOf('error', 'warn', 'info', 'debug')),
  logFormat: variable('QMIG_LOG_FORMAT', 'json', 'json (one JSON object a line) or pretty (one human-readable line; `npm start` uses it). Secrets are redacted in both.', oneOf('json', 'pretty')),
  stateVhost: variable('QMIG_STATE_VHOST', '/', 'Vhost that holds the cluster-wide lock queues.', text),
  brokerTimeoutMs: variable('QMIG_BROKER_TIMEOUT_MS', '15000', 'Timeout of one management API request.', positiveInt(100, 600000)),
  authCacheSeconds: variable('QMIG_AUTH_CACHE_SECONDS', '10', 'How long a verified caller is cached (keyed by a hash of the credentials).', positiveInt(0, 3600)),
  authFailureLimit: variable('QMIG_AUTH_FAILURE_LIMIT', '10', 'Failed logins per address per minute before 429.', positiveInt(1, 100000)),
  bodyLimit: variable('QMIG_BODY_LIMIT_BYTES', '1048576', 'Largest accepted request body (413 above).', positiveInt(1024, 104857600)),
  concurrency: variable('QMIG_MIGRATION_CONCURRENCY', '6', 'Queues migrated at once.', positiveInt(1, 64)),
  shovelTimeoutSeconds: variable('QMIG_SHOVEL_TIMEOUT_SECONDS', '3600', 'Longest a single shovel move may run before the queue fails.', positiveInt(5, 604800)),
  shovelMinMessages: variable(
    'QMIG_SHOVEL_MIN_MESSAGES',
    '1000',
    "Queues holding fewer messages are moved by the sidecar over AMQP (confirmed, then acknowledged) instead of a dynamic shovel, whose set-up costs the broker more than such a move; 0: always shovels.",
    positiveInt(0, 100000000),
  ),
  shovelStartTimeoutSeconds: variable('QMIG_SHOVEL_START_TIMEOUT_SECONDS', '30', 'Longest a shovel may stay "starting" before the queue fails.', positiveInt(2, 3600)),
  fenceClients: variable('QMIG_FENCE_CLIENTS', 'true', "Revoke application users' access to the vhost and close its connections while migrating.", bool),
  peers: variable('QMIG_PEERS', '', 'Comma-separated URLs of the other sidecars of the cluster (for snapshots).', urlList),
  peersDns: variable(
    'QMIG_PEERS_DNS',
    '',
    "Instead of QMIG_PEERS: a DNS name resolving to every pod of the cluster (the headless Service, e.g. `<cluster>-nodes` with the cluster operator); the peers are its addresses other than this pod's, on QMIG_LISTEN_PORT, looked up at each snapshot.",
    hostName,
  ),
  snapshotMode: variable('QMIG_SNAPSHOT_MODE', 'none', 'none, tar or ebs.', oneOf('none', 'tar', 'ebs')),
  snapshotDataDir: variable('QMIG_SNAPSHOT_DATA_DIR', '', "The node's data directory (tar mode).", optionalText),
  snapshotDir: variable('QMIG_SNAPSHOT_DIR', '/var/lib/qmig/snapshots', 'Where tar snapshots are written.', text),
  snapshotDeleteOnSuccess: variable('QMIG_SNAPSHOT_DELETE_ON_SUCCESS', 'false', 'Remove snapshots after a successful migration.', bool),
  ebsRegion: variable('QMIG_EBS_REGION', '', 'AWS region (ebs mode).', optionalText),
  ebsEndpoint: variable('QMIG_EBS_ENDPOINT', '', 'EC2 endpoint override (ebs mode; tests).', optionalText),
  ebsInstanceId: variable('QMIG_EBS_INSTANCE_ID', '', 'EC2 instance id; empty: read from IMDSv2.', optionalText),
  ebsDevice: variable('QMIG_EBS_DEVICE', '/dev/sdh', "Device name of the node's data volume (ebs mode).", text),
  ebsImdsEndpoint: variable('QMIG_EBS_IMDS_ENDPOINT', 'http://169.254.169.254', 'EC2 instance metadata service (IMDSv2) used for the instance id and region when not configured (ebs mode; tests).', url('http:', 'https:')),
  snapshotTimeoutSeconds: variable('QMIG_SNAPSHOT_TIMEOUT_SECONDS', '1800', 'Longest one node snapshot (tar archive, EBS call, peer request) may take.', positiveInt(5, 86400)),
  maxQueuesPerMigration: variable('QMIG_MAX_QUEUES_PER_MIGRATION', '10000', 'Most mirrored queues one migration takes; queues beyond get the too_many_queues issue.', positiveInt(1, 1000000)),
  leaderBalanceMinQueues: variable('QMIG_LEADER_BALANCE_MIN_QUEUES', '10', 'Leader balance is not judged with fewer mirrored queues than this in the vhost.', positiveInt(1, 1000000)),
  relaxedChecksAsWarning: variable('QMIG_RELAXED_CHECKS_WARN_ONLY', 'false', 'Report a missing relaxed-redeclaration setting as a warning instead of blocking.', bool),
  leaderBalanceRatio: variable('QMIG_LEADER_BALANCE_RATIO', '1.6', 'Max/min masters per node above which leaders count as imbalanced.', positiveNumber(1, 1000)),
  diskSafetyFactor: variable('QMIG_DISK_SAFETY_FACTOR', '2.0', 'Disk needed = message bytes x this + QMIG_DISK_MARGIN_MB.', positiveNumber(0, 100)),
  diskMarginMb: variable('QMIG_DISK_MARGIN_MB', '500', 'Fixed disk margin in MiB.', positiveInt(0, 10000000)),
  memoryThreshold: variable('QMIG_MEMORY_THRESHOLD', '0.8', 'mem_used/mem_limit above which memory_usage fails.', positiveNumber(0.01, 1)),
  housekeepingCron: variable('QMIG_HOUSEKEEPING_CRON', '*/30 * * * * *', 'Schedule of housekeeping (orphan resume, pruning, leftovers report).', cron),
  retentionDays: variable('QMIG_RETENTION_DAYS', '30', 'Finished migration records older than this are pruned.', positiveInt(1, 36500)),
  transferConcurrency: variable('QMIG_TRANSFER_CONCURRENCY', '2', 'Queues a transfer (xfer) moves at once.', positiveInt(1, 32)),
  transferPrefetch: variable('QMIG_TRANSFER_PREFETCH', '1000', 'src-prefetch-count of transfer shovels: also the bound of messages that a cancel may leave on both clusters.', positiveInt(1, 100000)),
  migrationBrokerTimeoutMs: variable('QMIG_MIGRATION_BROKER_TIMEOUT_MS', '60000', 'Timeout of one management API request made by a running migration (longer than QMIG_BROKER_TIMEOUT_MS: a request given up while the broker still carries it out, e.g. a shovel created late, is worse than a slow answer).', positiveInt(1000, 600000)),
  auditLogFile: variable('QMIG_AUDIT_LOG', '', 'File that audit records are appended to (empty: the structured log only).', optionalText),
};

type VarTable = typeof VARIABLES;
export type Config = { [K in keyof VarTable]: VarTable[K] extends Variable<infer T> ? T : never };

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(VARIABLES) as [string, Variable<unknown>][]) {
    const raw = env[v.name] ?? v.default;
    if (raw === undefined) throw new ConfigError(v.name, 'is required');
    out[key] = v.parse(raw, v.name);
  }
  const config = out as Config;
  if (config.snapshotMode === 'tar' && !config.snapshotDataDir) {
    throw new ConfigError('QMIG_SNAPSHOT_DATA_DIR', 'is required when QMIG_SNAPSHOT_MODE=tar');
  }
  if (config.peersDns && config.peers.length > 0) {
    throw new ConfigError('QMIG_PEERS_DNS', 'set either QMIG_PEERS or QMIG_PEERS_DNS, not both');
  }
  return config;
}

/** Markdown table of every variable, for the README. */
export function configMarkdown(): string {
  const rows = Object.values(VARIABLES).map((v) => `| \`${v.name}\` | \`${v.default === '' ? '(empty)' : v.default}\` | ${v.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
