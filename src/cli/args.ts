/**
 * Argument parsing of the client subcommands (node:util parseArgs, strict): every problem is a
 * UsageError whose message names the flag (exit 2), never a stack trace. Also the connection
 * options shared by every client command (--url/--user/--password with QMIG_URL,
 * QMIG_CLI_USER, QMIG_CLI_PASSWORD fallbacks; for an https sidecar QMIG_CLI_CA_FILE and, for mutual
 * TLS, QMIG_CLI_CERT_FILE / QMIG_CLI_KEY_FILE) and the parsers of typed values.
 */
import { existsSync } from 'node:fs';
import type { ClientTlsFiles } from '../broker/tls-options.js';
import { parseArgs } from 'node:util';

export class UsageError extends Error {}

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

export interface Connection {
  /** Base URL without credentials. */
  url: URL;
  user: string;
  password: string;
  /** For an https:// sidecar: QMIG_CLI_CA_FILE, QMIG_CLI_CERT_FILE / QMIG_CLI_KEY_FILE (mutual TLS). */
  tls?: ClientTlsFiles;
}

/** The CLI's TLS files from the environment, each checked readable (a usage error names the variable). */
function cliTlsFiles(env: NodeJS.ProcessEnv): ClientTlsFiles | undefined {
  const files: Record<string, string | undefined> = {};
  for (const name of ['QMIG_CLI_CA_FILE', 'QMIG_CLI_CERT_FILE', 'QMIG_CLI_KEY_FILE']) {
    const path = env[name] || undefined;
    if (path && !existsSync(path)) throw new UsageError(`${name}: no file "${path}"`);
    files[name] = path;
  }
  if (Boolean(files.QMIG_CLI_CERT_FILE) !== Boolean(files.QMIG_CLI_KEY_FILE)) throw new UsageError('QMIG_CLI_CERT_FILE and QMIG_CLI_KEY_FILE go together (a client certificate and its key)');
  if (!files.QMIG_CLI_CA_FILE && !files.QMIG_CLI_CERT_FILE) return undefined;
  return { caFile: files.QMIG_CLI_CA_FILE, certFile: files.QMIG_CLI_CERT_FILE, keyFile: files.QMIG_CLI_KEY_FILE };
}

/** The sidecar URL and credentials from flags, then the environment. */
export function resolveConnection(values: Values, env: NodeJS.ProcessEnv): Connection {
  const fromFlag = stringValue(values, 'url');
  const raw = fromFlag ?? env.QMIG_URL ?? DEFAULT_URL;
  const source = fromFlag !== undefined ? '--url' : env.QMIG_URL !== undefined ? 'QMIG_URL' : 'the default URL';
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
  const user = stringValue(values, 'user') ?? env.QMIG_CLI_USER;
  const password = stringValue(values, 'password') ?? env.QMIG_CLI_PASSWORD;
  if (!user) throw new UsageError('no user: give --user or set QMIG_CLI_USER');
  if (password === undefined || password === '') throw new UsageError('no password: set QMIG_CLI_PASSWORD (or give --password)');
  const tls = cliTlsFiles(env);
  return tls ? { url, user, password, tls } : { url, user, password };
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
