/**
 * Named connection profiles for the client commands, in an INI file like rabbitmqadmin's
 * `~/.rabbitmqadmin.conf`:
 *
 *   [default]
 *   url = http://127.0.0.1:15680
 *   user = ops
 *   password = …
 *
 *   [prod]
 *   url = https://qmig.prod.example:15680
 *   ca_file = /etc/ssl/prod-ca.pem
 *   timeout = 30
 *
 * The file is `--config PATH`, else QMIG_CLI_CONFIG, else ~/.qmig.conf (only that default may be
 * missing). `--node NAME` picks a section (a missing one is a usage error); without it the
 * [default] section is used when there is one. Keys: url, user (or username), password,
 * ca_file, cert_file, key_file, insecure, timeout (seconds), table_style, time_zone.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './usage-error.js';

export const PROFILE_KEYS = ['url', 'user', 'password', 'ca_file', 'cert_file', 'key_file', 'insecure', 'timeout', 'table_style', 'time_zone'] as const;
export type ProfileKey = (typeof PROFILE_KEYS)[number];
export type Profile = Partial<Record<ProfileKey, string>>;

const ALIASES: Record<string, ProfileKey> = {
  username: 'user',
  hostname: 'url',
  ca_certificate_bundle_path: 'ca_file',
  client_certificate_file_path: 'cert_file',
  client_private_key_file_path: 'key_file',
};

/** Sections of an INI text; `where` names the file in errors. Comments start with # or ;. */
export function parseIni(text: string, where: string): Map<string, Profile> {
  const sections = new Map<string, Profile>();
  let current: Profile | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      const name = section[1].trim();
      current = sections.get(name) ?? {};
      sections.set(name, current);
      return;
    }
    const kv = /^([A-Za-z_][\w-]*)\s*[=:]\s*(.*)$/.exec(line);
    if (!kv) throw new UsageError(`${where}:${i + 1}: expected "[section]" or "key = value"`);
    if (!current) throw new UsageError(`${where}:${i + 1}: "${kv[1]}" is outside of any [section]`);
    const key = kv[1].toLowerCase().replace(/-/g, '_');
    const known = (PROFILE_KEYS as readonly string[]).includes(key) ? (key as ProfileKey) : ALIASES[key];
    if (!known) throw new UsageError(`${where}:${i + 1}: unknown key "${kv[1]}" (known: ${PROFILE_KEYS.join(', ')})`);
    (current as Profile)[known] = kv[2].replace(/^"(.*)"$/, '$1');
  });
  return sections;
}

export interface ProfileChoice {
  profile: Profile;
  /** The section used, if any. */
  name?: string;
  /** Whether the section was asked for with --node (it then wins over the environment). */
  explicit: boolean;
}

export function loadProfile(configFlag: string | undefined, node: string | undefined, env: NodeJS.ProcessEnv): ProfileChoice {
  const explicitFile = configFlag ?? env.QMIG_CLI_CONFIG;
  const file = explicitFile ?? join(env.HOME ?? homedir(), '.qmig.conf');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (explicitFile !== undefined || node !== undefined)
      throw new UsageError(`cannot read the configuration file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return { profile: {}, explicit: false };
  }
  const sections = parseIni(text, file);
  if (node !== undefined) {
    const profile = sections.get(node);
    if (!profile) throw new UsageError(`no [${node}] section in ${file} (sections: ${[...sections.keys()].join(', ') || 'none'})`);
    return { profile, name: node, explicit: true };
  }
  const fallback = sections.get('default');
  return fallback ? { profile: fallback, name: 'default', explicit: false } : { profile: {}, explicit: false };
}
