/**
 * Every request body and response shape has a JSON Schema in schemas/ (draft 2020-12 not
 * required; plain draft-07 keywords). They are loaded once into one Ajv instance; schemas may
 * `$ref` each other by file name (e.g. "migration-record.json"). Request schemas may give a property
 * an "x-reason" ("must be a number between 0 and 100"): the 400 then says "<field> <x-reason>".
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// ajv-formats is CommonJS with `exports.default`: take the function from either shape.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

const here = dirname(fileURLToPath(import.meta.url));
/** schemas/ sits at the package root: ../../schemas from src/http and from dist/http. */
export const SCHEMA_DIR = join(here, '..', '..', 'schemas');

let ajv: Ajv | null = null;

function instance(): Ajv {
  if (ajv) return ajv;
  const a = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(a);
  // "x-reason": the sentence a 400 uses when a request field fails its schema (request-validation.ts).
  a.addVocabulary(['x-reason']);
  for (const file of readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'));
    a.addSchema(schema, file);
  }
  ajv = a;
  return a;
}

export function schemaValidator(name: string): ValidateFunction {
  const file = name.endsWith('.json') ? name : `${name}.json`;
  const v = instance().getSchema(file);
  if (!v) throw new Error(`no schema ${file} in ${SCHEMA_DIR}`);
  return v;
}

export function schemaNames(): string[] {
  return readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''));
}
