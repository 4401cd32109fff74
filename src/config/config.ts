/**
 * Configuration from environment variables. Every variable is declared once in VARIABLES with
 * its default and description; `loadConfig` validates all of them and fails fast with a
 * ConfigError that names the offending variable. The README's configuration table is the same
 * list (`qmig config --markdown` prints it).
 */
import { registerSecret } from '../redaction.js';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { DEFAULT_STATE_VHOST } from '../broker/names.js';
import {
  ConfigError,
  Variable,
  variable,
  port,
  positiveInt,
  positiveNumber,
  oneOf,
  text,
  optionalText,
  stateSecret,
  optionalStateSecret,
  bool,
  url,
  optionalUrl,
  urlList,
  hostName,
  readableFile,
  cron,
} from './parsers.js';

export { ConfigError } from './parsers.js';

export const VARIABLES = {
  listenPort: variable('QMIG_LISTEN_PORT', '15680', 'Port the sidecar listens on.', port),
  listenHost: variable('QMIG_LISTEN_HOST', '127.0.0.1', 'Address the sidecar binds; 0.0.0.0 in a pod.', text),
  managementUrl: variable('QMIG_MANAGEMENT_URL', 'http://127.0.0.1:15672', "The node's management API (http or https).", url('http:', 'https:')),
  amqpUrl: variable(
    'QMIG_AMQP_URL',
    'amqp://127.0.0.1:5672',
    "The node's AMQP listener (amqp or amqps); credentials come from QMIG_USER/QMIG_PASSWORD.",
    url('amqp:', 'amqps:'),
  ),
  user: variable('QMIG_USER', 'guest', 'Service account the sidecar drives the broker with (needs the administrator tag).', text),
  password: variable('QMIG_PASSWORD', 'guest', 'Password of QMIG_USER. Never logged.', text, true),
  caFile: variable('QMIG_CA_FILE', '', 'PEM CA bundle for https/amqps to the broker and to transfer targets (empty: system CAs).', readableFile),
  tlsInsecure: variable('QMIG_TLS_INSECURE', 'false', 'Skip TLS certificate verification to the broker (tests only).', bool),
  clientCertFile: variable(
    'QMIG_CLIENT_CERT_FILE',
    '',
    'PEM client certificate the sidecar presents on its TLS connections (management, AMQP, https peers, transfer targets) for mutual TLS; needs QMIG_CLIENT_KEY_FILE (empty: none).',
    readableFile,
  ),
  clientKeyFile: variable('QMIG_CLIENT_KEY_FILE', '', 'PEM private key of QMIG_CLIENT_CERT_FILE.', readableFile),
  tlsCertFile: variable(
    'QMIG_TLS_CERT_FILE',
    '',
    "PEM certificate (chain) of the sidecar's own HTTPS listener; set with QMIG_TLS_KEY_FILE to serve HTTPS instead of plain HTTP (empty: plain HTTP). Reloaded when the file changes.",
    readableFile,
  ),
  tlsKeyFile: variable('QMIG_TLS_KEY_FILE', '', 'PEM private key of QMIG_TLS_CERT_FILE. Reloaded when the file changes.', readableFile),
  tlsClientCaFile: variable(
    'QMIG_TLS_CLIENT_CA_FILE',
    '',
    'PEM CA bundle: when set, the HTTPS listener requires a client certificate signed by it (mutual TLS; Basic Auth is still required). Reloaded when the file changes.',
    readableFile,
  ),
  peerCaFile: variable(
    'QMIG_PEER_CA_FILE',
    '',
    'PEM CA bundle that https:// QMIG_PEERS must present a certificate from (empty: QMIG_CA_FILE, else system CAs). Peers are always verified.',
    readableFile,
  ),
  shovelCaFile: variable(
    'QMIG_SHOVEL_CA_FILE',
    '',
    "CA bundle that an amqps transfer target's certificate is verified against by the shovels (cacertfile in the shovel URI). A path on the broker nodes, readable at the same path by the sidecar, which checks the target with it first. Required for transfers to an amqps target.",
    readableFile,
  ),
  shovelCertFile: variable(
    'QMIG_SHOVEL_CERT_FILE',
    '',
    'Client certificate the shovels present to an amqps transfer target (certfile in the shovel URI; same path on the broker nodes and the sidecar; empty: none).',
    readableFile,
  ),
  shovelKeyFile: variable('QMIG_SHOVEL_KEY_FILE', '', 'Private key of QMIG_SHOVEL_CERT_FILE (keyfile in the shovel URI).', readableFile),
  logLevel: variable('QMIG_LOG_LEVEL', 'info', 'error, warn, info, debug.', oneOf('error', 'warn', 'info', 'debug')),
  logFormat: variable(
    'QMIG_LOG_FORMAT',
    'json',
    'json (one JSON object a line) or pretty (one human-readable line; `npm start` uses it). Secrets are redacted in both.',
    oneOf('json', 'pretty'),
  ),
  stateVhost: variable(
    'QMIG_STATE_VHOST',
    DEFAULT_STATE_VHOST,
    'Vhost of the cluster-wide lock queues and the fence vault (saved permissions, run markers). The sidecar creates it when missing; only the service account may have permissions on it (`check` fails otherwise).',
    text,
  ),
  stateSecret: variable(
    'QMIG_STATE_SECRET',
    undefined,
    'Required. Key (≥ 32 characters, the same on every sidecar of the cluster) that seals the state qmig keeps in the broker (HMAC-SHA256); state that does not verify is never acted on. Never logged.',
    stateSecret,
    true,
  ),
  stateSecretPrevious: variable(
    'QMIG_STATE_SECRET_PREVIOUS',
    '',
    'The key before a rotation: accepted to verify state, never used to seal (empty: none). Never logged.',
    optionalStateSecret,
    true,
  ),
  brokerTimeoutMs: variable('QMIG_BROKER_TIMEOUT_MS', '15000', 'Timeout of one management API request.', positiveInt(100, 600000)),
  proxyTimeoutMs: variable(
    'QMIG_PROXY_TIMEOUT_MS',
    '60000',
    'Longest the management-UI/API proxy waits for the management listener to start answering before it answers 504.',
    positiveInt(100, 600000),
  ),
  authCacheSeconds: variable(
    'QMIG_AUTH_CACHE_SECONDS',
    '10',
    'How long a verified caller is cached (keyed by a hash of the credentials; at most 60 s, dropped when a re-check fails).',
    positiveInt(0, 60),
  ),
  authFailureLimit: variable(
    'QMIG_AUTH_FAILURE_LIMIT',
    '10',
    'Failed logins in a row per user name (×5 per client address) before each further attempt must wait, 1 s doubling up to 60 s (429 meanwhile); on qmig routes and proxied ones.',
    positiveInt(1, 100000),
  ),
  bodyLimit: variable('QMIG_BODY_LIMIT_BYTES', '1048576', 'Largest accepted request body (413 above).', positiveInt(1024, 104857600)),
  concurrency: variable('QMIG_MIGRATION_CONCURRENCY', '6', 'Queues migrated at once.', positiveInt(1, 64)),
  planCalibrationMaxAgeSeconds: variable(
    'QMIG_PLAN_CALIBRATION_MAX_AGE_SECONDS',
    '3600',
    "How long a plan's calibration (the probe that migrates a few throw-away queues to time this cluster) is reused, in memory per sidecar, before the next plan or start probes again.",
    positiveInt(1, 604800),
  ),
  planEstimateAtStart: variable(
    'QMIG_PLAN_ESTIMATE_AT_START',
    'true',
    'A start with a deadline that finds no cached calibration runs the probe first (before taking the migration lock), to record its estimate and refuse a deadline it would not meet unless forced. A start without a deadline never probes: it records the estimate only from a cached calibration (a plan made within QMIG_PLAN_CALIBRATION_MAX_AGE_SECONDS). false: only a cached calibration is used (none: no estimate, no fit check).',
    bool,
  ),
  alarmCheckSeconds: variable(
    'QMIG_ALARM_CHECK_SECONDS',
    '2',
    "How often, at most, a running migration reads the nodes' memory and disk alarms before starting a queue; with one raised it pauses (status paused) until every alarm clears. 0: never pauses.",
    positiveInt(0, 3600),
  ),
  shovelTimeoutSeconds: variable('QMIG_SHOVEL_TIMEOUT_SECONDS', '3600', 'Longest a single shovel move may run before the queue fails.', positiveInt(5, 604800)),
  shovelMinMessages: variable(
    'QMIG_SHOVEL_MIN_MESSAGES',
    '1000',
    'Queues holding fewer messages are moved by the sidecar over AMQP (confirmed, then acknowledged) instead of a dynamic shovel, whose set-up costs the broker more than such a move; 0: always shovels.',
    positiveInt(0, 100000000),
  ),
  shovelStartTimeoutSeconds: variable(
    'QMIG_SHOVEL_START_TIMEOUT_SECONDS',
    '30',
    'Longest a shovel may stay "starting" before the queue fails.',
    positiveInt(2, 3600),
  ),
  fenceClients: variable('QMIG_FENCE_CLIENTS', 'true', "Revoke application users' access to the vhost and close its connections while migrating.", bool),
  advertisedUrl: variable(
    'QMIG_ADVERTISED_URL',
    '',
    "How clients reach the sidecars (e.g. a Service's URL): GET /api/overview names it for every node's management (http/https) listener, so clients that discover endpoints there (Hop-based tools) reach a sidecar, not a broker without the plugin. Empty: the scheme, host and port the request came in on.",
    optionalUrl,
  ),
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
  ebsImdsEndpoint: variable(
    'QMIG_EBS_IMDS_ENDPOINT',
    'http://169.254.169.254',
    'EC2 instance metadata service (IMDSv2) used for the instance id and region when not configured (ebs mode; tests).',
    url('http:', 'https:'),
  ),
  snapshotTimeoutSeconds: variable(
    'QMIG_SNAPSHOT_TIMEOUT_SECONDS',
    '1800',
    'Longest one node snapshot (tar archive, EBS call, peer request) may take.',
    positiveInt(5, 86400),
  ),
  maxQueuesPerMigration: variable(
    'QMIG_MAX_QUEUES_PER_MIGRATION',
    '10000',
    'Most mirrored queues one migration takes; queues beyond get the too_many_queues issue.',
    positiveInt(1, 1000000),
  ),
  leaderBalanceMinQueues: variable(
    'QMIG_LEADER_BALANCE_MIN_QUEUES',
    '10',
    'Leader balance is not judged with fewer mirrored queues than this in the vhost.',
    positiveInt(1, 1000000),
  ),
  relaxedChecksAsWarning: variable(
    'QMIG_RELAXED_CHECKS_WARN_ONLY',
    'false',
    'Report a missing relaxed-redeclaration setting as a warning instead of blocking.',
    bool,
  ),
  leaderBalanceRatio: variable(
    'QMIG_LEADER_BALANCE_RATIO',
    '1.6',
    'Max/min masters per node above which leaders count as imbalanced.',
    positiveNumber(1, 1000),
  ),
  diskSafetyFactor: variable('QMIG_DISK_SAFETY_FACTOR', '2.0', 'Disk needed = message bytes x this + QMIG_DISK_MARGIN_MB.', positiveNumber(0, 100)),
  diskMarginMb: variable('QMIG_DISK_MARGIN_MB', '500', 'Fixed disk margin in MiB.', positiveInt(0, 10000000)),
  memoryThreshold: variable('QMIG_MEMORY_THRESHOLD', '0.8', 'mem_used/mem_limit above which memory_usage fails.', positiveNumber(0.01, 1)),
  housekeepingCron: variable('QMIG_HOUSEKEEPING_CRON', '*/30 * * * * *', 'Schedule of housekeeping (orphan resume, pruning, leftovers report).', cron),
  retentionDays: variable('QMIG_RETENTION_DAYS', '30', 'Finished migration records older than this are pruned.', positiveInt(1, 36500)),
  transferConcurrency: variable('QMIG_TRANSFER_CONCURRENCY', '2', 'Queues a transfer (xfer) moves at once.', positiveInt(1, 32)),
  transferPrefetch: variable(
    'QMIG_TRANSFER_PREFETCH',
    '1000',
    'src-prefetch-count of transfer shovels: also the bound of messages that a cancel may leave on both clusters.',
    positiveInt(1, 100000),
  ),
  migrationBrokerTimeoutMs: variable(
    'QMIG_MIGRATION_BROKER_TIMEOUT_MS',
    '60000',
    'Timeout of one management API request made by a running migration (longer than QMIG_BROKER_TIMEOUT_MS: a request given up while the broker still carries it out, e.g. a shovel created late, is worse than a slow answer).',
    positiveInt(1000, 600000),
  ),
  auditLogFile: variable('QMIG_AUDIT_LOG', '', 'File that audit records are appended to (empty: the structured log only).', optionalText),
};

type VarTable = typeof VARIABLES;
export type Config = { [K in keyof VarTable]: VarTable[K] extends Variable<infer T> ? T : never };

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(VARIABLES) as [string, Variable<unknown>][]) {
    const raw = env[v.name] ?? v.default;
    if (raw === undefined) throw new ConfigError(v.name, 'is required');
    if (v.secret) registerSecret(raw);
    try {
      out[key] = v.parse(raw, v.name);
    } catch (err) {
      // A secret's value is never part of an error (qmig config --check prints them).
      if (v.secret && err instanceof ConfigError && raw !== '' && err.message.includes(raw))
        throw new ConfigError(v.name, 'is invalid (its value is not shown)');
      throw err;
    }
  }
  const config = out as Config;
  if (config.snapshotMode === 'tar' && !config.snapshotDataDir) {
    throw new ConfigError('QMIG_SNAPSHOT_DATA_DIR', 'is required when QMIG_SNAPSHOT_MODE=tar');
  }
  refuseGuestOffLoopback(config);
  checkTlsPairs(config);
  if (config.peersDns && config.peers.length > 0) {
    throw new ConfigError('QMIG_PEERS_DNS', 'set either QMIG_PEERS or QMIG_PEERS_DNS, not both');
  }
  if (config.peersDns && config.tlsCertFile) {
    // Discovered peers are addresses; an HTTPS peer is verified against the name it was issued to.
    throw new ConfigError(
      'QMIG_PEERS_DNS',
      'cannot be used with QMIG_TLS_CERT_FILE: peers found by address cannot be verified against certificates issued to names; list the https:// peers by name in QMIG_PEERS',
    );
  }
  return config;
}

/** `localhost`, 127.0.0.0/8, ::1 (also IPv4-mapped). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host;
  if (isIPv4(v4)) return v4.startsWith('127.');
  if (/^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host)) return true; // ::ffff:127.x.y.z as URL writes it
  return isIPv6(host) && /^(0{0,4}:){1,7}0{0,3}1$|^::1$/.test(host);
}

/**
 * The defaults guest/guest are for a broker on the same host only: RabbitMQ refuses `guest` off
 * loopback, and a sidecar reaching a remote broker with the well-known password is a default
 * nobody should run with. Refuse to start, naming the variables to set.
 */
function refuseGuestOffLoopback(config: Config): void {
  if (config.user !== 'guest' || config.password !== 'guest') return;
  for (const [name, url] of [
    ['QMIG_MANAGEMENT_URL', config.managementUrl],
    ['QMIG_AMQP_URL', config.amqpUrl],
  ] as const) {
    if (!isLoopbackHost(url.hostname)) {
      throw new ConfigError(
        'QMIG_USER',
        `the default credentials guest/guest (QMIG_USER, QMIG_PASSWORD) cannot be used with ${name} ${url.host}, which is not loopback (RabbitMQ refuses guest off loopback): set QMIG_USER and QMIG_PASSWORD to the service account`,
      );
    }
  }
}

/** Certificates come with their keys, and each pair must load (a wrong file fails at start, not at the first connection). */
function checkTlsPairs(config: Config): void {
  const pairs: Array<[string, string | undefined, string, string | undefined]> = [
    ['QMIG_TLS_CERT_FILE', config.tlsCertFile, 'QMIG_TLS_KEY_FILE', config.tlsKeyFile],
    ['QMIG_CLIENT_CERT_FILE', config.clientCertFile, 'QMIG_CLIENT_KEY_FILE', config.clientKeyFile],
    ['QMIG_SHOVEL_CERT_FILE', config.shovelCertFile, 'QMIG_SHOVEL_KEY_FILE', config.shovelKeyFile],
  ];
  for (const [certName, cert, keyName, key] of pairs) {
    if (cert && !key) throw new ConfigError(keyName, `is required when ${certName} is set`);
    if (key && !cert) throw new ConfigError(certName, `is required when ${keyName} is set`);
    if (cert && key) {
      try {
        createSecureContext({ cert: readFileSync(cert), key: readFileSync(key) });
      } catch (err) {
        throw new ConfigError(certName, `"${cert}" with key ${keyName} is not a usable PEM certificate and key: ${(err as Error).message}`);
      }
    }
  }
  if (config.tlsClientCaFile && !config.tlsCertFile) {
    throw new ConfigError(
      'QMIG_TLS_CLIENT_CA_FILE',
      'needs QMIG_TLS_CERT_FILE and QMIG_TLS_KEY_FILE (client certificates are asked for by the HTTPS listener only)',
    );
  }
  const cas: Array<[string, string | undefined]> = [
    ['QMIG_CA_FILE', config.caFile],
    ['QMIG_TLS_CLIENT_CA_FILE', config.tlsClientCaFile],
    ['QMIG_PEER_CA_FILE', config.peerCaFile],
    ['QMIG_SHOVEL_CA_FILE', config.shovelCaFile],
  ];
  for (const [name, file] of cas) {
    if (!file) continue;
    const blocks = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new ConfigError(name, `"${file}" holds no PEM certificate (a CA bundle is one or more BEGIN CERTIFICATE blocks)`);
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw new ConfigError(name, `"${file}" holds a certificate that does not parse: ${(err as Error).message}`);
      }
    }
  }
}

/** Markdown table of every variable, for the README. */
export function configMarkdown(): string {
  const rows = Object.values(VARIABLES).map(
    (v) => `| \`${v.name}\` | ${v.default === undefined ? '(required)' : `\`${v.default === '' ? '(empty)' : v.default}\``} | ${v.description} |`,
  );
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
