/**
 * Structured JSON logs (winston). Use `logger.child({ migration_id, queue })` so every line of a
 * migration carries both. Secrets never reach the output: keys that look like secrets are masked,
 * and every string is cleaned by src/redaction.ts (URL credentials found by parsing, known
 * secrets wherever they appear).
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

export const logger = winston.createLogger({
  level: process.env.QMIG_LOG_LEVEL ?? 'info',
  format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
  defaultMeta: { service: 'qmig' },
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}

export type Logger = winston.Logger;
