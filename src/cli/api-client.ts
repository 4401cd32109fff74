/**
 * The HTTP client of a qmig sidecar used by the `qmig` client commands: base URL, Basic auth,
 * JSON in and out. Every HTTP answer is returned (status + parsed body); only "could not talk
 * to a qmig sidecar at all" throws (SidecarUnreachableError, exit 3). `failureOf` turns a non-2xx
 * answer into the exit code and the one-line message to print. No message ever contains the
 * credentials: they live only in the Authorization header.
 */
import axios, { type AxiosInstance } from 'axios';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { displayUrl, UsageError, type Connection, type Tls } from './args.js';
import { EXIT, exitCodeForStatus } from './exit-codes.js';

export const API_PREFIX = '/api/queue-migration';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ErrorBody {
  error?: string;
  reason?: string;
  [key: string]: unknown;
}

/** Could not reach a sidecar (network, TLS, timeout, an answer that is not JSON). */
export class SidecarUnreachableError extends Error {}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ECONNABORTED: 'timed out',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'timed out',
  EPIPE: 'connection closed',
};

export class SidecarClient {
  private readonly http: AxiosInstance;
  readonly shownUrl: string;

  constructor(connection: Connection, timeoutMs = connection.timeoutMs ?? 120_000) {
    this.shownUrl = displayUrl(connection.url);
    this.http = axios.create({
      baseURL: connection.url.toString().replace(/\/$/, '') + API_PREFIX,
      auth: { username: connection.user, password: connection.password },
      timeout: timeoutMs,
      httpsAgent: connection.tls ? httpsAgent(connection.tls) : undefined,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxRedirects: 0,
      headers: { accept: 'application/json' },
    });
  }

  get<T>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse<T>> {
    let res;
    try {
      res = await this.http.request<string>({
        method,
        url: path,
        data: body === undefined ? undefined : JSON.stringify(body),
        // No body, no Content-Type (axios would send a form type, which changing routes refuse).
        headers: body === undefined ? { 'content-type': false } : { 'content-type': 'application/json' },
      });
    } catch (err) {
      const e = err as { code?: string; cause?: { code?: string } };
      const code = e.code ?? e.cause?.code ?? 'unknown';
      const reason = NETWORK_REASONS[code] ?? (/CERT|SSL|TLS|UNABLE_TO_VERIFY|EPROTO/i.test(code) ? `TLS error (${code})` : `network error (${code})`);
      throw new SidecarUnreachableError(`cannot reach the sidecar at ${this.shownUrl}: ${reason}`);
    }
    const text = typeof res.data === 'string' ? res.data : '';
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed === null && res.status !== 204)) {
      // A 401 from a proxy in front may have an HTML body: still an authentication failure.
      if (res.status === 401 || res.status === 403) return { status: res.status, body: {} as T };
      throw new SidecarUnreachableError(`the answer of ${this.shownUrl} (HTTP ${res.status}) is not JSON: is this the URL of a qmig sidecar?`);
    }
    return { status: res.status, body: parsed as T };
  }
}

function pem(path: string | undefined, flag: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The TLS settings of --ca-file/--cert-file/--key-file/--insecure (or the profile's). */
function httpsAgent(tls: Tls): HttpsAgent {
  return new HttpsAgent({
    ca: pem(tls.caFile, 'ca-file'),
    cert: pem(tls.certFile, 'cert-file'),
    key: pem(tls.keyFile, 'key-file'),
    rejectUnauthorized: !tls.insecure,
  });
}

export interface Failure {
  exitCode: number;
  message: string;
}

/** The exit code and the message for a non-2xx answer. */
export function failureOf(res: ApiResponse, shownUrl: string): Failure {
  const body = (res.body && typeof res.body === 'object' ? res.body : {}) as ErrorBody;
  const reason = typeof body.reason === 'string' && body.reason ? body.reason : typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
  const exitCode = exitCodeForStatus(res.status);
  switch (res.status) {
    case 401:
      return { exitCode, message: `authentication failed at ${shownUrl} (401): check --user/--password or QMIG_CLI_USER/QMIG_CLI_PASSWORD` };
    case 403:
      return { exitCode, message: `not allowed (403): ${reason}` };
    case 429:
      return { exitCode, message: `too many failed logins (429): ${reason}` };
    case 502:
    case 503:
    case 504:
      return { exitCode, message: `the sidecar at ${shownUrl} cannot reach its broker (${res.status}): ${reason}` };
    default: {
      const extras: string[] = [];
      if (typeof body.problematic_queue_count === 'number') extras.push(`${body.problematic_queue_count} problematic queue(s)`);
      if (typeof body.current_migration_id === 'string') extras.push(`current migration: ${body.current_migration_id}`);
      if (typeof body.current_transfer_id === 'string') extras.push(`current transfer: ${body.current_transfer_id}`);
      const title = res.status === 404 ? 'not found' : res.status === 409 ? 'conflict' : res.status === 400 ? 'refused' : 'error';
      return {
        exitCode: exitCode === EXIT.ok ? EXIT.failed : exitCode,
        message: `${title} (${res.status}): ${reason}${extras.length ? ` (${extras.join('; ')})` : ''}`,
      };
    }
  }
}
