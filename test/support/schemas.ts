/**
 * Validates API responses against the same JSON Schemas the sidecar uses (schemas/).
 */
import assert from 'node:assert/strict';
import { schemaValidator } from '../../src/http/schema-registry.js';

export function assertSchema(schemaName: string, body: unknown): void {
  const validate = schemaValidator(schemaName);
  const ok = validate(body);
  assert.ok(ok, `response does not match ${schemaName}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
}
