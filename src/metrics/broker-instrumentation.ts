/**
 * Latency and errors of the sidecar's management API requests, measured by axios interceptors
 * on a ManagementClient's `http` instance (installed once per instance; the client itself is
 * not changed). The endpoint label is the first path segment (`queues`, `shovels`,
 * `global-parameters`, …): bounded, never a vhost or queue name.
 */
import type { AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { performance } from 'node:perf_hooks';
import { brokerErrors, brokerRequestDuration } from './metrics.js';

const STARTED = Symbol('qmig.metrics.started');
const INSTALLED = Symbol('qmig.metrics.installed');

type Timed = InternalAxiosRequestConfig & { [STARTED]?: number };

/** `/queues/%2F/q1?x=1` → `queues`; anything unexpected → `other`. */
export function endpointOf(url: string | undefined): string {
  if (!url) return 'other';
  let path = url;
  try {
    if (/^https?:\/\//i.test(url)) path = new URL(url).pathname.replace(/^\/api(?=\/|$)/, '');
  } catch {
    return 'other';
  }
  const first = path.split('?')[0].split('/').filter(Boolean)[0] ?? '';
  return /^[a-z][a-z-]{0,39}$/.test(first) ? first : 'other';
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

function methodOf(config: InternalAxiosRequestConfig | undefined): string {
  const m = String(config?.method ?? 'get').toUpperCase();
  return ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH'].includes(m) ? m : 'OTHER';
}

function observe(config: Timed | undefined, status: number | null): void {
  try {
    const method = methodOf(config);
    const endpoint = endpointOf(config?.url);
    const started = config?.[STARTED];
    const cls = status === null ? 'none' : statusClass(status);
    if (typeof started === 'number') brokerRequestDuration.observe({ method, endpoint, status_class: cls }, (performance.now() - started) / 1000);
    if (status === null) brokerErrors.inc({ method, endpoint, kind: 'unreachable' });
    else if (status >= 500) brokerErrors.inc({ method, endpoint, kind: 'server_error' });
    else if (status >= 400 && ![401, 403, 404].includes(status)) brokerErrors.inc({ method, endpoint, kind: 'client_error' });
  } catch {
    // never break a broker request for a metric
  }
}

/** Installs the interceptors on `http` (idempotent). */
export function instrumentBrokerClient(http: AxiosInstance): void {
  const marked = http as AxiosInstance & { [INSTALLED]?: boolean };
  if (marked[INSTALLED]) return;
  marked[INSTALLED] = true;
  http.interceptors.request.use((config: Timed) => {
    config[STARTED] = performance.now();
    return config;
  });
  http.interceptors.response.use(
    (response: AxiosResponse) => {
      observe(response.config as Timed, response.status);
      return response;
    },
    (error: { config?: Timed; response?: AxiosResponse }) => {
      observe(error?.config, error?.response?.status ?? null);
      return Promise.reject(error);
    },
  );
}
