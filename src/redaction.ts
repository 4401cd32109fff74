/**
 * Secrets out of text (log lines, error messages, `qmig config --check`), by parsing, not by
 * pattern matching:
 * - credentials inside URLs: after `scheme://`, the URL runs to the next whitespace or quote, and
 *   its user information is everything up to the LAST `@` of it (a host cannot contain `@`). So a
 *   raw password with `/`, `@`, `:`, `%` or `#` is removed whole, wherever the naive grammar would
 *   end the authority early; a path or query that contains `@` is over-redacted, never leaked;
 * - secrets this process knows (the service account's password, transfer target passwords,
 *   temporary shovel users' passwords), registered with `registerSecret`: each occurrence, raw or
 *   percent-encoded, becomes `***` (short ones are not registered: they would mangle ordinary words).
 */

const MIN_SECRET_LENGTH = 6;
const MAX_SECRETS = 1000;
const secrets = new Set<string>();

export function registerSecret(secret: string | undefined | null): void {
  if (!secret || secret.length < MIN_SECRET_LENGTH) return;
  if (secrets.size >= MAX_SECRETS) secrets.delete(secrets.values().next().value as string);
  secrets.add(secret);
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret) secrets.add(encoded);
}

/** Characters that end a URL inside free text. */
const URL_END = new Set([' ', '\t', '\r', '\n', '"', "'", '`', '<', '>']);

function isSchemeChar(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c === '+' || c === '.' || c === '-';
}

/** `text` with the user information of every URL in it replaced by `***`. */
export function redactUrlCredentials(text: string): string {
  let out = '';
  let from = 0;
  for (;;) {
    const sep = text.indexOf('://', from);
    if (sep < 0) return out + text.slice(from);
    let schemeStart = sep;
    while (schemeStart > from && isSchemeChar(text[schemeStart - 1])) schemeStart--;
    const authority = sep + 3;
    if (schemeStart === sep) {
      out += text.slice(from, authority);
      from = authority;
      continue;
    }
    let end = authority;
    while (end < text.length && !URL_END.has(text[end])) end++;
    const rest = text.slice(authority, end);
    const at = rest.lastIndexOf('@');
    out += text.slice(from, authority) + (at >= 0 ? `***${rest.slice(at)}` : rest);
    from = end;
  }
}

/** `text` without URL credentials and without any registered secret. */
export function redactText(text: string): string {
  let out = redactUrlCredentials(text);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}
