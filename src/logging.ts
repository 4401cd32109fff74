/**
 * Structured JSON logs (winston). Use `logger.child({ migration_id, queue })` so every line of a
 * migration carries both. Secrets never reach the output: keys that look like secrets are masked,
 * and every string is cleaned by src/redaction.ts (URL credentials found by parsing, known
 * secrets wherever they appear). QMIG_LOG_FORMAT=pretty (what `npm start` uses) prints the same,
 * redacted, fields as one human-readable line: time, level, message, then key=value.
 */
import winston from 'winston';
import { redactText } from './redaction.js';

const SECRET_KEY = /pass(word)?|secret|authorization|token|credential|cookie/i;

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '***' : redact(v, depth + 1);
  return out;
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = (info as Record<string, unknown>)[key];
    (info as Record<string, unknown>)[key] = SECRET_KEY.test(key) ? '***' : redact(v);
  }
  return info;
});

export type LogFormat = 'json' | 'pretty';

/** One value of the pretty line: bare when it has no space or quote, else JSON-quoted. */
function prettyValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : typeof value === 'string' ? JSON.stringify(text) : String(text);
}

/** `2026-12-02T03:04:05.678Z INFO  sidecar listening  url=http://… node=rabbit@…` (after redaction). */
export function prettyLine(info: Record<string, unknown>): string {
  const { timestamp, level, message, service: _service, ...fields } = info;
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${prettyValue(v)}`)
    .join(' ');
  return `${String(timestamp)} ${String(level).toUpperCase().padEnd(5)} ${String(message)}${rest ? `  ${rest}` : ''}`;
}

const prettyFormat = winston.format.printf((info) => prettyLine(info as Record<string, unknown>));

function formatOf(format: LogFormat): winston.Logform.Format {
  return winston.format.combine(redactFormat(), winston.format.timestamp(), format === 'pretty' ? prettyFormat : winston.format.json());
}

export const logger = winston.createLogger({
  level: process.env.QMIG_LOG_LEVEL ?? 'info',
  format: formatOf(process.env.QMIG_LOG_FORMAT === 'pretty' ? 'pretty' : 'json'),
  defaultMeta: { service: 'qmig' },
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}

export function setLogFormat(format: LogFormat): void {
  logger.format = formatOf(format);
}

export type Logger = winston.Logger;
