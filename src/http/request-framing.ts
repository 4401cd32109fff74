/**
 * How a request's body is delimited (RFC 9112 §6), decided once from the headers the sidecar
 * accepted, so that the proxy forwards the body with exactly that framing — never re-framed,
 * never unframed. Node's parser already refuses Content-Length together with Transfer-Encoding,
 * duplicate or malformed Content-Length and most bad Transfer-Encoding values; what it lets
 * through and a proxy must not forward is refused here (400):
 * - a Transfer-Encoding other than exactly `chunked` (e.g. `gzip, chunked`: the body would reach
 *   the broker decoded from chunks but still gzip, with no header saying so);
 * - a chunked body on a method whose requests carry no body (GET, HEAD, DELETE, OPTIONS, TRACE):
 *   upstream clients do not chunk those, so the body bytes would follow the request unframed and
 *   be read by the broker as a further request (request smuggling).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { BadRequestError } from '../errors.js';

export type Framing = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

/** Methods whose requests have no body by convention; Node's client never chunks them. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

export function requestFraming(method: string, headers: IncomingHttpHeaders): Framing {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined) {
    if (cl !== undefined) throw new BadRequestError('ambiguous request framing: both Content-Length and Transfer-Encoding');
    if (String(te).trim().toLowerCase() !== 'chunked') {
      throw new BadRequestError(`unsupported Transfer-Encoding "${String(te).slice(0, 100)}": only "chunked" is accepted`);
    }
    if (BODYLESS_METHODS.has(method.toUpperCase())) {
      throw new BadRequestError(`a ${method.toUpperCase()} request must not carry a chunked body`);
    }
    return { kind: 'chunked' };
  }
  if (cl !== undefined) {
    const text = String(cl).trim();
    if (!/^\d{1,15}$/.test(text)) throw new BadRequestError('malformed Content-Length');
    return { kind: 'length', length: Number(text) };
  }
  return { kind: 'none' };
}
