/**
 * A JSON form of a decoded AMQP value that does not depend on key order (header tables, nested
 * tables and arrays; byte arrays as base64): two deliveries of the same message give the same text.
 */
export function canonical(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { buffer: value.toString('base64') };
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The text of `canonical(value)` (absent: `{}`): equal for values that differ only in key order. */
export const canonicalJson = (value: unknown): string => JSON.stringify(canonical(value ?? {}));
