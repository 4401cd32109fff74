/**
 * Strict validation of Kubernetes documents for the deploy/ tests (no cluster to apply them to):
 * - `modelProblems`: the kubernetes-models schema of the kind (types, required fields) plus a walk
 *   of the models' TypeScript definitions that reports every field the type does not have (the
 *   schemas alone accept a typo such as `readinesProbe`);
 * - `crdValidator`: a CustomResourceDefinition's openAPIV3Schema compiled with ajv as the API
 *   server prunes: an object schema with `properties` and neither `additionalProperties` nor
 *   `x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false`, so unknown fields
 *   are errors instead of being silently dropped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';

export type Obj = Record<string, any>;

export interface KindEntry {
  model: new (data: any) => { validate(): void };
  /** The .d.ts declaring the kind's interface. */
  dts: string;
}

interface Field {
  dts?: string;
  array: boolean;
}

const interfaceCache = new Map<string, Map<string, Field> | null>();

/** `spec` as imported from `dts`: a relative file, or a package found in a node_modules above it. */
function importedFile(dts: string, spec: string): string | undefined {
  const bare = spec.replace(/\.js$/, '');
  if (spec.startsWith('.')) return resolve(dirname(dts), `${bare}.d.ts`);
  for (let dir = dirname(dts); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', `${bare}.d.ts`);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Field names of the first interface declared in a models .d.ts, each with the file of its own
 * object type when it has one. Type aliases and inline object types are leaves.
 */
function interfaceFields(dts: string): Map<string, Field> | null {
  if (interfaceCache.has(dts)) return interfaceCache.get(dts)!;
  const text = readFileSync(dts, 'utf8');
  const imports = new Map<string, string | undefined>();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) imports.set(m[1], importedFile(dts, m[2]));
  const body = /^export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text);
  if (!body) {
    interfaceCache.set(dts, null);
    return null;
  }
  const fields = new Map<string, Field>();
  for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
    const type = m[2].replace(/;$/, '');
    const named = /^(Array<)?(I[A-Z]\w+)>?$/.exec(type);
    const file = named ? imports.get(named[2]) : undefined;
    fields.set(m[1], { dts: file && existsSync(file) ? file : undefined, array: Boolean(named?.[1]) });
  }
  interfaceCache.set(dts, fields);
  return fields;
}

/** Every key of `value` that its type does not have, as JSON-pointer-like paths. */
export function unknownFields(value: unknown, dts: string, path = ''): string[] {
  const fields = interfaceFields(dts);
  if (!fields || !value || typeof value !== 'object' || Array.isArray(value)) return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const field = fields.get(key);
    if (!field) {
      out.push(`${path}/${key}`);
      continue;
    }
    if (!field.dts) continue;
    if (field.array && Array.isArray(child)) child.forEach((c, i) => out.push(...unknownFields(c, field.dts!, `${path}/${key}/${i}`)));
    else out.push(...unknownFields(child, field.dts, `${path}/${key}`));
  }
  return out;
}

/** Throws (schema message, or the unknown fields) when `doc` is not a valid `entry` object. */
export function strictValidateWith(entry: KindEntry, doc: Obj, label = `${doc.kind} ${doc.metadata?.name}`): void {
  new entry.model(structuredClone(doc)).validate();
  const unknown = unknownFields(doc, entry.dts);
  if (unknown.length > 0) throw new Error(`${label}: unknown field(s) ${unknown.join(', ')}`);
}

function closeObjects(schema: unknown): void {
  if (!schema || typeof schema !== 'object') return;
  if (Array.isArray(schema)) {
    schema.forEach(closeObjects);
    return;
  }
  const s = schema as Obj;
  if (s.properties && s.additionalProperties === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true) s.additionalProperties = false;
  for (const v of Object.values(s)) closeObjects(v);
}

/** A validator of documents against a CRD version's openAPIV3Schema; returns the errors (empty: valid). */
export function crdValidator(openAPIV3Schema: Obj): (doc: Obj) => string[] {
  const schema = structuredClone(openAPIV3Schema);
  closeObjects(schema);
  // strict: false lets ajv ignore the x-kubernetes-* annotations and the Kubernetes formats (int32, quantity…).
  const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  return (doc) =>
    validate(doc)
      ? []
      : (validate.errors ?? []).map(
          (e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`,
        );
}
