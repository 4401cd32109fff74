/**
 * The parsers of configuration values (src/config/config.ts): each turns an environment variable's
 * text into a typed value or throws a ConfigError naming the variable. Pure but for the file
 * checks (readable files, certificates).
 */
import { readFileSync } from 'node:fs';
import { redactUrlCredentials } from '../redaction.js';
import nodeCron from 'node-cron';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Parser<T> = (raw: string, name: string) => T;

export interface Variable<T> {
  name: string;
  default: string | undefined;
  description: string;
  parse: Parser<T>;
  secret?: boolean;
}

export function variable<T>(name: string, def: string | undefined, description: string, parse: Parser<T>, secret = false): Variable<T> {
  return { name, default: def, description, parse, secret };
}

export const port: Parser<number> = (raw, name) => {
  const n = integer(raw, name);
  if (n < 1 || n > 65535) throw new ConfigError(name, `must be a TCP port 1-65535, got "${raw}"`);
  return n;
};

export function integer(raw: string, name: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  return Number(raw.trim());
}

export const positiveInt =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = integer(raw, name);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got "${raw}"`);
    return n;
  };

export const positiveNumber =
  (min: number, max: number): Parser<number> =>
  (raw, name) => {
    const n = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(name, `must be a number, got "${raw}"`);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got "${raw}"`);
    return n;
  };

export const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw, name) => {
    if (!(values as string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };

export const text: Parser<string> = (raw, name) => {
  if (raw.length === 0) throw new ConfigError(name, 'must not be empty');
  return raw;
};

export const optionalText: Parser<string | undefined> = (raw) => (raw === '' ? undefined : raw);

/** A key for HMAC-SHA256: at least 32 characters (e.g. `openssl rand -hex 32`). */
export const stateSecret: Parser<string> = (raw, name) => {
  if (raw.length < 32) throw new ConfigError(name, `must be at least 32 characters (e.g. the output of \`openssl rand -hex 32\`), got ${raw.length}`);
  return raw;
};
export const optionalStateSecret: Parser<string | undefined> = (raw, name) => (raw === '' ? undefined : stateSecret(raw, name));

export const bool: Parser<boolean> = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
};

export const url =
  (...protocols: string[]): Parser<URL> =>
  (raw, name) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, `must be a URL, got "${redactUrlCredentials(raw)}"`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(name, `must use ${protocols.map((p) => p.replace(':', '')).join(' or ')}, got "${parsed.protocol.replace(':', '')}"`);
    }
    return parsed;
  };

export const optionalUrl: Parser<URL | undefined> = (raw, name) => (raw === '' ? undefined : url('http:', 'https:')(raw, name));

export const urlList: Parser<URL[]> = (raw, name) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => url('http:', 'https:')(s, name));

export const hostName: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(raw)) {
    throw new ConfigError(name, `must be a DNS name (letters, digits, '-' and '.'), got "${raw}"`);
  }
  return raw;
};

export const readableFile: Parser<string | undefined> = (raw, name) => {
  if (raw === '') return undefined;
  try {
    readFileSync(raw);
  } catch (err) {
    throw new ConfigError(name, `cannot read file "${raw}": ${(err as Error).message}`);
  }
  return raw;
};

/** Validated by node-cron itself (the scheduler that runs it): field count AND field ranges. */
export const cron: Parser<string> = (raw, name) => {
  const fields = raw.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) throw new ConfigError(name, `must be a cron expression of 5 or 6 fields, got "${raw}"`);
  if (!nodeCron.validate(raw.trim())) throw new ConfigError(name, `is not a valid cron expression (a field is out of range or malformed), got "${raw}"`);
  return raw.trim();
};
