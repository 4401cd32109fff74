/**
 * Argument parsing of the client subcommands (node:util parseArgs, strict): every problem is a
 * UsageError whose message names the flag (exit 2), never a stack trace. Also the options shared
 * by every client command: the connection (--url/--user/--password with QMIG_URL, QMIG_CLI_USER,
 * QMIG_CLI_PASSWORD fallbacks, a --config/--node profile, TLS flags with QMIG_CLI_CA_FILE,
 * QMIG_CLI_CERT_FILE / QMIG_CLI_KEY_FILE fallbacks, --timeout) and the presentation
 * (presentation.ts), and the parsers of typed values.
 */
import { accessSync, constants } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadProfile, type Profile } from './profiles.js';
import { UsageError } from './usage-error.js';

export { UsageError };

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder in the help text (string options), e.g. "V". */
  value?: string;
  description: string;
}

export type OptionTable = Record<string, OptionSpec>;

export const DEFAULT_URL = 'http://127.0.0.1:15680';

/** Options every client command accepts. */
export const COMMON_OPTIONS: OptionTable = {
  url: { type: 'string', value: 'URL', description: `sidecar URL (env QMIG_URL, default ${DEFAULT_URL})` },
  user: { type: 'string', value: 'USER', description: 'user to authenticate as (env QMIG_CLI_USER)' },
  password: { type: 'string', value: 'PASSWORD', description: 'password of that user (env QMIG_CLI_PASSWORD; prefer the variable)' },
  json: { type: 'boolean', description: 'print the API JSON as is (one JSON document per line when following)' },
  config: { type: 'string', value: 'FILE', description: 'INI file of named connection profiles (env QMIG_CLI_CONFIG, default ~/.qmig.conf)' },
  node: { type: 'string', value: 'NAME', description: 'use the [NAME] profile of the configuration file (default: [default] if present)' },
  'ca-file': { type: 'string', value: 'PEM', description: 'CA bundle to verify an https sidecar with (profile key ca_file)' },
  'cert-file': { type: 'string', value: 'PEM', description: 'client certificate for mutual TLS (profile key cert_file)' },
  'key-file': { type: 'string', value: 'PEM', description: 'private key of the client certificate (profile key key_file)' },
  insecure: { type: 'boolean', description: 'do not verify the sidecar TLS certificate (profile key insecure = true)' },
  timeout: { type: 'string', value: 'SECONDS', description: 'HTTP timeout of one request (default 120; profile key timeout)' },
  'non-interactive': { type: 'boolean', description: 'for scripts: no colour, no redrawn progress, plain tables' },
  'table-style': { type: 'string', value: 'STYLE', description: 'tables as: aligned (default), markdown, tsv or plain (profile key table_style)' },
  'no-headers': { type: 'boolean', description: 'print tables without their header line' },
  'time-zone': {
    type: 'string',
    value: 'TZ',
    description: 'print times in this zone: UTC, local or an IANA name such as Europe/Paris (default: as the API gives them, UTC)',
  },
  color: { type: 'string', value: 'WHEN', description: 'colour statuses: auto (on a terminal, unless NO_COLOR), always, never' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface ParsedArgs {
  values: Values;
  positionals: string[];
}

export interface PositionalSpec {
  /** Names in the help text, e.g. ["ID"]. */
  names: string[];
  /** How many are required (the rest are optional). */
  required: number;
}

/** Parses `args` against `options` (plus COMMON_OPTIONS); throws UsageError naming the problem. */
export function parseCommandArgs(args: string[], options: OptionTable, positionals: PositionalSpec = { names: [], required: 0 }): ParsedArgs {
  const all = { ...COMMON_OPTIONS, ...options };
  const config = Object.fromEntries(
    Object.entries(all).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options: config, strict: true, allowPositionals: positionals.names.length > 0 });
  } catch (err) {
    // parseArgs messages name the flag ("Unknown option '--x'", "Option '--vhost <value>' argument missing").
    const message = String((err as Error).message ?? err).split('\n')[0];
    throw new UsageError(message.replace(/\. This command does not take positional arguments$/, ': this command takes no arguments'));
  }
  const values = parsed.values as Values;
  if (values.help) return { values, positionals: parsed.positionals };
  for (const [name, spec] of Object.entries(all)) {
    const v = values[name];
    if (spec.type !== 'string' || v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      if (typeof item === 'string' && item.length === 0) throw new UsageError(`--${name} needs a non-empty value`);
    }
  }
  if (parsed.positionals.length < positionals.required) {
    throw new UsageError(`missing ${positionals.names.slice(parsed.positionals.length, positionals.required).join(' ')}`);
  }
  if (parsed.positionals.length > positionals.names.length) {
    throw new UsageError(`unexpected argument '${parsed.positionals[positionals.names.length]}'`);
  }
  return { values, positionals: parsed.positionals };
}

export function stringValue(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function listValue(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/** --batch-size: an integer >= 0 or "all". */
export function parseBatchSize(raw: string): number | 'all' {
  if (raw === 'all') return 'all';
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new UsageError(`--batch-size must be an integer >= 0 or "all", not '${raw}'`);
  return Number(raw);
}

/** A number within [min, max], for `--flag`. */
export function parseNumber(name: string, raw: string, min: number, max: number): number {
  const n = /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number between ${min} and ${max}, not '${raw}'`);
  return n;
}

export function parseChoice<T extends string>(name: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, not '${raw}'`);
  return raw as T;
}

export interface Tls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure: boolean;
}

export interface Connection {
  /** Base URL without credentials. */
  url: URL;
  user: string;
  password: string;
  tls?: Tls;
  /** Timeout of one HTTP request. */
  timeoutMs?: number;
}

/**
 * One setting: the flag, then the chosen profile when picked with --node, then the environment
 * variable, then the [default] profile. Returns the value and where it came from (for messages).
 */
function setting(
  values: Values,
  flagName: string,
  profile: { profile: Profile; explicit: boolean; name?: string },
  key: keyof Profile,
  envName?: string,
  env: NodeJS.ProcessEnv = {},
): { value?: string; source: string } {
  const flagged = stringValue(values, flagName);
  if (flagged !== undefined) return { value: flagged, source: `--${flagName}` };
  const fromProfile = profile.profile[key];
  if (profile.explicit && fromProfile !== undefined) return { value: fromProfile, source: `${key} of profile [${profile.name}]` };
  if (envName && env[envName] !== undefined) return { value: env[envName], source: envName };
  if (fromProfile !== undefined) return { value: fromProfile, source: `${key} of profile [${profile.name}]` };
  return { source: 'default' };
}

/** The presentation and connection settings a profile may also give (table style, time zone). */
export function profileSetting(values: Values, env: NodeJS.ProcessEnv, flagName: string, key: keyof Profile): string | undefined {
  return setting(values, flagName, loadProfile(stringValue(values, 'config'), stringValue(values, 'node'), env), key).value;
}

/** The sidecar URL, credentials, TLS and timeout from flags, the profile (--node) and the environment. */
export function resolveConnection(values: Values, env: NodeJS.ProcessEnv): Connection {
  const profile = loadProfile(stringValue(values, 'config'), stringValue(values, 'node'), env);
  const urlSetting = setting(values, 'url', profile, 'url', 'QMIG_URL', env);
  const raw = urlSetting.value ?? DEFAULT_URL;
  const source = urlSetting.value !== undefined ? urlSetting.source : 'the default URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${source} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${source} must be an http:// or https:// URL`);
  if (url.username || url.password) {
    throw new UsageError(`${source} must not contain credentials: use --user/--password or QMIG_CLI_USER/QMIG_CLI_PASSWORD`);
  }
  url.search = '';
  url.hash = '';
  const user = setting(values, 'user', profile, 'user', 'QMIG_CLI_USER', env).value;
  const password = setting(values, 'password', profile, 'password', 'QMIG_CLI_PASSWORD', env).value;
  if (!user) throw new UsageError('no user: give --user or set QMIG_CLI_USER (or user in a --node profile)');
  if (password === undefined || password === '') throw new UsageError('no password: set QMIG_CLI_PASSWORD (or give --password, or a password in the profile)');
  const insecureRaw = values.insecure === true ? 'true' : profile.profile.insecure;
  if (insecureRaw !== undefined && !/^(true|false|yes|no|1|0)$/i.test(insecureRaw))
    throw new UsageError(`insecure of profile [${profile.name}] must be true or false, not '${insecureRaw}'`);
  const tls: Tls = {
    caFile: readableSetting(setting(values, 'ca-file', profile, 'ca_file', 'QMIG_CLI_CA_FILE', env)),
    certFile: readableSetting(setting(values, 'cert-file', profile, 'cert_file', 'QMIG_CLI_CERT_FILE', env)),
    keyFile: readableSetting(setting(values, 'key-file', profile, 'key_file', 'QMIG_CLI_KEY_FILE', env)),
    insecure: insecureRaw !== undefined && /^(true|yes|1)$/i.test(insecureRaw),
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    throw new UsageError('--cert-file and --key-file go together (QMIG_CLI_CERT_FILE and QMIG_CLI_KEY_FILE go together: a client certificate and its key)');
  const timeout = setting(values, 'timeout', profile, 'timeout');
  const timeoutMs =
    timeout.value === undefined
      ? undefined
      : Math.round(parseNumber(timeout.source === '--timeout' ? 'timeout' : 'timeout (profile)', timeout.value, 0.1, 86400) * 1000);
  return { url, user, password, tls, timeoutMs };
}

/** The URL as it may be shown: origin and path only. */
export function displayUrl(url: URL): string {
  return url.origin + url.pathname.replace(/\/$/, '');
}

/** The help text of a command from its option table. */
export function helpText(command: string, synopsis: string, description: string, options: OptionTable): string {
  const rows = Object.entries({ ...options, ...COMMON_OPTIONS }).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}${o.multiple ? ' …' : ''}`;
    return [left, o.description] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return [
    `usage: qmig ${command} ${synopsis}`.trimEnd(),
    '',
    description,
    '',
    'options:',
    ...rows.map(([l, d]) => `  ${l.padEnd(width)}  ${d}`),
    '',
    'exit codes: 0 ready/succeeded, 1 not ready/refused/failed, 2 usage error, 3 cannot reach or authenticate',
  ].join('\n');
}

/** A TLS file setting: empty counts as unset, a file that cannot be read is a usage error naming where it came from. */
function readableSetting(s: { value?: string; source: string }): string | undefined {
  if (s.value === undefined || s.value === '') return undefined;
  try {
    accessSync(s.value, constants.R_OK);
  } catch (err) {
    throw new UsageError(`${s.source}: cannot read ${s.value} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return s.value;
}
