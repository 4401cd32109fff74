/**
 * Request bodies of /api/queue-migration/*: read raw (limit `config.bodyLimit`), parsed as JSON
 * ourselves so that every failure is a clear 400 naming what is wrong, then validated against the
 * route's schema in schemas/. qmig is strict where the original plugin silently used defaults:
 * - an empty body means {} (every field optional);
 * - a non-empty body must be JSON (content-type JSON or none), an object, and valid;
 * - `vhost` in a body is ignored (the spec says the vhost is always taken from the path);
 * - any other unknown field, wrong type or out-of-range value → 400 naming the field.
 */
import express, { type RequestHandler } from 'express';
import type { ErrorObject } from 'ajv';
import { BadRequestError } from '../errors.js';
import { schemaValidator } from './schema-registry.js';

/** Express middleware that reads the raw body (any content type) up to `limit` bytes. */
export function rawBody(limit: number): RequestHandler {
  return express.raw({ type: () => true, limit });
}

export const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i;

/** The body as a plain object: {} when empty; BadRequestError when it is anything but a JSON object. */
export function parseJsonObject(raw: unknown, contentType: string | undefined): Record<string, unknown> {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
  const text = buf.toString('utf8');
  if (text.trim() === '') return {};
  if (contentType && !JSON_TYPE.test(contentType)) {
    throw new BadRequestError(`request body must be JSON (Content-Type: application/json), got Content-Type: ${contentType.slice(0, 100)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new BadRequestError(`request body must be a JSON object, got ${kind}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Validates `body` (after dropping `vhost`) against `schemas/<schemaName>.json`; returns the
 * validated copy or throws BadRequestError whose reason names the offending field.
 */
export function validateBody<T>(schemaName: string, body: Record<string, unknown>): T {
  const { vhost: _ignored, ...rest } = body;
  void _ignored;
  const validate = schemaValidator(schemaName);
  if (validate(rest)) return rest as T;
  throw new BadRequestError(describeFirstError(validate.errors ?? [], validate.schema));
}

/** The error a person should read first: unknown fields, then the first failing field. */
export function describeFirstError(errors: ErrorObject[], schema: unknown): string {
  if (errors.length === 0) return 'request body is invalid';
  const unknown = errors.find((e) => e.keyword === 'additionalProperties');
  if (unknown) {
    const field = fieldName(unknown.instancePath, String((unknown.params as { additionalProperty: string }).additionalProperty));
    return `unknown field '${field}'`;
  }
  const missing = errors.find((e) => e.keyword === 'required');
  const first = missing ?? errors[0];
  if (first.keyword === 'required') {
    return `${fieldName(first.instancePath, String((first.params as { missingProperty: string }).missingProperty))} is required`;
  }
  const field = fieldName(first.instancePath);
  const reason = reasonAt(schema, first.instancePath);
  return `${field} ${reason ?? first.message ?? 'is invalid'}`;
}

function segments(instancePath: string): string[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** JSON pointer → `queue_names[3]` style. */
function fieldName(instancePath: string, child?: string): string {
  const parts = segments(instancePath);
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || 'request body';
}

/** The deepest "x-reason" along the path in the schema, if any. */
interface SchemaNode {
  'x-reason'?: string;
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
}

function reasonAt(schema: unknown, instancePath: string): string | undefined {
  let node = schema as SchemaNode | undefined;
  let reason: string | undefined = node?.['x-reason'];
  for (const seg of segments(instancePath)) {
    if (!node) break;
    node = /^\d+$/.test(seg) && node.items ? node.items : node.properties?.[seg];
    if (node?.['x-reason']) reason = node['x-reason'];
  }
  return reason;
}
